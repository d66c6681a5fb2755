"""The local stack: start the five real services, wait until each is healthy, stop them all.

Used by ``botpool up/down/status`` for a developer's long-running stack (in
``.botpool/local`` with the usual ports when free) and by the test suite's
session fixture (a temporary folder and free ports, so tests never touch a
developer's stack). Running ``up`` on a stack that is already up is harmless:
healthy services are left alone, dead ones are restarted.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from botpool.errors import DependencyUnavailable
from devstack import ports, process
from devstack.programs import SYSTEM
from devstack.services import ALL, Nomad, Service, control_env
from devstack.state import StackState

DEFAULT_ROOT = Path(os.environ.get("BOTPOOL_STATE_DIR", Path(__file__).resolve().parent.parent / ".botpool" / "local"))

Progress = Callable[[str], None]


@dataclass(frozen=True)
class ServiceStatus:
    """One row of ``botpool status``."""

    name: str
    pid: int | None
    running: bool
    problem: str | None
    version: str

    @property
    def healthy(self) -> bool:
        return self.running and self.problem is None


class Stack:
    """One local stack rooted in a folder; every method is safe to call repeatedly."""

    def __init__(self, root: Path = DEFAULT_ROOT, *, random_ports: bool = False, system: bool = False) -> None:
        self.root = root
        self.random_ports = random_ports
        self.state = StackState.load(root) or StackState(root=root)
        # A stack started with the local system keeps running it: later `up`/`status` include it.
        self.services: tuple[Service, ...] = ALL + SYSTEM if system or "reconciler" in self.state.pids else ALL

    # ----------------------------------------------------------------- queries
    def env(self) -> dict[str, str]:
        """Variables that point botpool's services and the HashiCorp CLIs at this stack.

        Holds local root credentials: for this developer's shell and child processes only.
        """
        return control_env(self.state)

    def slot_env(self, telegram_api_base: str) -> dict[str, str]:
        """What a pool slot needs to know on this stack: where Consul, Vault, Telegram, PostgreSQL and Redis are.

        No credentials: a slot gets its tenant's secrets only through the Vault handoff.
        """
        s = self.state
        return {
            "CONSUL_HTTP_ADDR": f"http://127.0.0.1:{s.ports['consul_http']}",
            "VAULT_ADDR": f"http://127.0.0.1:{s.ports['vault']}",
            "TELEGRAM_API_BASE": telegram_api_base,
            "BOTPOOL_TENANT_PG_HOST": "127.0.0.1",
            "BOTPOOL_TENANT_PG_PORT": str(s.ports["postgres"]),
            "BOTPOOL_TENANT_REDIS_HOST": "127.0.0.1",
            "BOTPOOL_TENANT_REDIS_PORT": str(s.ports["redis"]),
        }

    def addresses(self) -> dict[str, str]:
        """Human-facing addresses of every service."""
        out: dict[str, str] = {}
        for service in self.services:
            out.update(service.addresses(self.state))
        return out

    def status(self) -> list[ServiceStatus]:
        """Return each service's process and health state."""
        rows = []
        for service in self.services:
            pid = self.state.pids.get(service.name)
            running = pid is not None and process.alive(pid)
            problem = service.problem(self.state) if running else "not running"
            version = self.state.binaries.get(service.name, {}).get("version", "?")
            rows.append(ServiceStatus(service.name, pid, running, problem, version))
        return rows

    # ----------------------------------------------------------------- up/down
    def up(self, progress: Progress = lambda _msg: None, *, timeout: float = 120.0) -> None:
        """Start whatever is not running and wait until every service is healthy."""
        self.root.mkdir(parents=True, exist_ok=True)
        for service in self.services:
            if service.name not in self.state.binaries:
                progress(f"locating {service.name} (a first build takes minutes)")
                binary = service.resolve_binary()
                if binary is None:
                    raise DependencyUnavailable(
                        f"{service.name} is not installed: run `make deps` (apt-get install postgresql-15 redis-server)"
                    )
                self.state.binaries[service.name] = {
                    "path": str(binary.path),
                    "version": binary.version,
                    "source": binary.source,
                }
        self._assign_ports()
        self.state.save()
        started: dict[str, float] = {}
        pending = list(self.services)
        deadline = time.monotonic() + timeout
        while pending:
            for service in list(pending):
                if any(dep in [p.name for p in pending] for dep in service.after):
                    continue
                pid = self.state.pids.get(service.name)
                if pid is None or not process.alive(pid):
                    if service.name not in started:
                        progress(f"starting {service.name}")
                        service.prepare(self.state)
                        self.state.pids[service.name] = process.spawn(
                            service.argv(self.state),
                            log=service.log(self.state),
                            env=service.env(self.state),
                            cwd=self.root,
                            user=service.user,
                        )
                        self.state.save()
                        started[service.name] = time.monotonic()
                    else:
                        raise DependencyUnavailable(
                            f"{service.name} exited during start; see {service.log(self.state)}:\n"
                            + _tail(service.log(self.state))
                        )
                problem = service.problem(self.state)
                if problem is None:
                    service.after_healthy(self.state)
                    pending.remove(service)
                    progress(f"{service.name} healthy")
                elif time.monotonic() > deadline:
                    raise DependencyUnavailable(
                        f"{service.name} not healthy after {timeout:.0f} s ({problem}); "
                        f"see {service.log(self.state)}:\n" + _tail(service.log(self.state))
                    )
            if pending:
                time.sleep(0.2)
        self._write_env_file()

    def down(self, progress: Progress = lambda _msg: None) -> None:
        """Stop every service and everything Nomad started, leaving no process behind."""
        nomad_pid = self.state.pids.get("nomad")
        if nomad_pid is not None and process.alive(nomad_pid):
            progress("stopping Nomad jobs")
            self._stop_nomad_jobs()
        for service in reversed(ALL + SYSTEM):
            pid = self.state.pids.pop(service.name, None)
            if pid is not None:
                progress(f"stopping {service.name}")
                process.stop(pid)
        # Executors and raw_exec tasks outlive the agent by design; end them too.
        for pid in process.processes_mentioning(str(self.root)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self._unmount_nomad_secrets()
        if self.root.exists():
            shutil.rmtree(self.root, ignore_errors=True)
        self.state = StackState(root=self.root)

    # ----------------------------------------------------------------- helpers
    def _assign_ports(self) -> None:
        taken = set(self.state.ports.values())
        for service in self.services:
            for label, preferred in service.port_labels.items():
                if label in self.state.ports:
                    continue
                self.state.ports[label] = ports.pick(None if self.random_ports else preferred, taken=taken)

    def _stop_nomad_jobs(self) -> None:
        base = f"http://127.0.0.1:{self.state.ports['nomad_http']}"
        try:
            jobs = httpx.get(f"{base}/v1/jobs", timeout=5).json()
            for job in jobs:
                httpx.delete(f"{base}/v1/job/{job['ID']}", params={"purge": "true"}, timeout=5)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                allocs = httpx.get(f"{base}/v1/allocations", timeout=5).json()
                if all(a.get("ClientStatus") not in ("running", "pending") for a in allocs):
                    break
                time.sleep(0.3)
        except httpx.HTTPError:
            pass

    def _unmount_nomad_secrets(self) -> None:
        """Nomad mounts a tmpfs secrets dir per task when root; unmount so the folder can go."""
        try:
            mounts = Path("/proc/mounts").read_text().splitlines()
        except OSError:
            return
        for line in mounts:
            target = line.split()[1]
            if target.startswith(str(self.root)):
                os.system(f"umount -l '{target}' 2>/dev/null")  # noqa: S605 - path from our own state dir

    def _write_env_file(self) -> None:
        path = self.root / "stack.env"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            for key, value in self.env().items():
                out.write(f"export {key}='{value}'\n")


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


__all__ = ["DEFAULT_ROOT", "Nomad", "Service", "ServiceStatus", "Stack"]
