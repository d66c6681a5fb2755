#!/usr/bin/env bash
# Installs what botpool needs on a Debian machine, skipping whatever is present:
# PostgreSQL 15, Redis 7, Prometheus and Alertmanager (Debian packages), uv, and the locked Python environment.
# Go must already be installed (it builds Nomad, Consul and Vault: see `make binaries`).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -x /usr/lib/postgresql/15/bin/postgres ] || need_apt+=(postgresql-15)
command -v pg_isready >/dev/null && command -v psql >/dev/null || need_apt+=(postgresql-client-15)
command -v redis-server >/dev/null || need_apt+=(redis-server)
# promtool and amtool check monitoring/ in the tests; the stack runs Prometheus and Alertmanager itself.
command -v promtool >/dev/null || need_apt+=(prometheus)
command -v amtool >/dev/null || need_apt+=(prometheus-alertmanager)
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  # The packages start system-wide servers; botpool runs its own throwaway ones on other ports.
  $SUDO systemctl disable --now redis-server postgresql prometheus prometheus-alertmanager \
    prometheus-node-exporter >/dev/null 2>&1 || true
fi

UV=$(command -v uv || true)
if [ -z "$UV" ]; then
  if [ ! -x .botpool/uv/bin/uv ]; then
    echo "bootstrapping uv into .botpool/uv"
    python3 -m venv .botpool/uv
    .botpool/uv/bin/pip install -q uv
  fi
  UV=.botpool/uv/bin/uv
fi
# --compile-bytecode: every slot starts by importing aiogram; without .pyc files (uv does not write them,
# nor does Python under PYTHONDONTWRITEBYTECODE) each start compiles it again, about 1.5 s of CPU more.
"$UV" sync --frozen --python python3 -q --compile-bytecode
echo "dependencies ready (uv: $UV)"
