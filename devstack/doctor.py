"""Checks every dependency of the local stack and says precisely what is wrong and how to fix it.

A newcomer's first failure is usually a missing package or an occupied port;
``botpool doctor`` names the check, the finding and the command that fixes it,
instead of letting ``botpool up`` fail halfway with a service's own log.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from devstack import binaries, ports
from devstack.stack import Stack


@dataclass(frozen=True)
class Finding:
    """One check's verdict; ``fix`` is empty when it passed."""

    check: str
    ok: bool
    detail: str
    fix: str = ""


def _run(argv: list[str]) -> str | None:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False).stdout
    except OSError:
        return None


def check_all(stack: Stack) -> Iterator[Finding]:
    """Yield one finding per dependency, in the order a newcomer should fix them."""
    yield Finding(
        "python",
        sys.version_info >= (3, 11),
        sys.version.split()[0],
        "install Python 3.11+ (apt-get install python3)",
    )
    go = _run(["go", "version"]) if shutil.which("go") else None
    match = re.search(r"go(\d+)\.(\d+)", go or "")
    go_ok = bool(match and (int(match.group(1)), int(match.group(2))) >= (1, 25))
    yield Finding(
        "go",
        go_ok,
        (go or "not found").strip(),
        "install Go 1.25+ to build Nomad, Consul and Vault (https://go.dev/dl)",
    )
    pg = Path("/usr/lib/postgresql/15/bin/postgres")
    yield Finding(
        "postgresql-15",
        pg.exists(),
        str(pg) if pg.exists() else "not installed",
        "apt-get install -y postgresql-15 postgresql-client-15",
    )
    redis_out = _run(["redis-server", "--version"]) if shutil.which("redis-server") else None
    rmatch = re.search(r"v=(\d+)\.", redis_out or "")
    yield Finding(
        "redis-server",
        bool(rmatch and int(rmatch.group(1)) >= 7),
        (redis_out or "not installed").split(" sha=")[0].strip(),
        "apt-get install -y redis-server (Redis 7+)",
    )
    for product in binaries.PRODUCTS:
        try:
            found = binaries.find(product)
        except Exception as exc:
            yield Finding(product, False, str(exc), f"unset BOTPOOL_{product.upper()}_BIN or fix the binary")
            continue
        if found is None:
            yield Finding(
                product,
                False,
                "not built yet",
                f"make binaries (builds {product} from the Go module proxy; minutes on 2 cores)",
            )
        else:
            yield Finding(product, True, f"{found.version} ({found.source}: {found.path})")
    if stack.state.pids:
        for row in stack.status():
            yield Finding(
                f"stack: {row.name}",
                row.healthy,
                row.problem or f"healthy (pid {row.pid})",
                f"botpool down && botpool up (log: {stack.root / 'logs' / (row.name + '.log')})",
            )
    else:
        for label, preferred in {"consul": 8500, "vault": 8200, "nomad": 4646}.items():
            free = ports.is_free(preferred)
            yield Finding(
                f"port {preferred} ({label})",
                True,
                "free" if free else "in use: the local stack will pick another port",
            )
