"""The local stack: start the five real services, wait until each is healthy, restart, stop, reset.

Used by ``botpool up/down/reset/status`` for a developer's long-running stack
(in ``.botpool/local`` with the usual ports when free) and by the test suite's
session fixture (a temporary folder and free ports, so tests never touch a
developer's stack). Running ``up`` on a stack that is already up is harmless:
healthy services are left alone, dead ones are restarted. The data lives on
disk: ``down`` stops every process and keeps it, so the next ``up`` finds the
tenants, the pool and the secrets again; ``reset`` deletes it.

A stack ``tied`` to its process (the tests, the benchmarks) dies with it: its
services get a parent-death signal, and a guardian process removes the rest
(Nomad's tasks, mounts, the folder) however the owner ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from botpool.errors import DependencyUnavailable
from devstack import acl, orphans, ports, process
from devstack.binaries import REPO_ROOT
from devstack.nodes import NODE2, node2_dir
from devstack.programs import SYSTEM
from devstack.services import ALL, SECOND_NODE, Nomad, Service, control_env
from devstack.state import StackState

DEFAULT_ROOT = Path(os.environ.get("BOTPOOL_STATE_DIR", Path(__file__).resolve().parent.parent / ".botpool" / "local"))

Progress = Callable[[str], None]
#: Nomad client nodes a local stack can run (``botpool up --nodes``).
MAX_NODES = 2


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

    def __init__(
        self, root: Path = DEFAULT_ROOT, *, random_ports: bool = False, system: bool = False, tied: bool = False
    ) -> None:
        self.root = root
        self.random_ports = random_ports
        self.tied = tied
        self.state = StackState.load(root) or StackState(root=root)
        # A stack started with the local system keeps running it: later `up`/`status` include it.
        self.system = system or "reconciler" in self.state.pids
        self._guard: subprocess.Popen[bytes] | None = None
        self._guard_pipe: int | None = None

    # ----------------------------------------------------------------- queries
    @property
    def services(self) -> tuple[Service, ...]:
        """This stack's services in start order: the backing services, a second node's agents, the system."""
        return ALL + (NODE2 if self.state.nodes > 1 else ()) + (SYSTEM if self.system else ())

    def env(self) -> dict[str, str]:
        """Variables that point botpool's services and the HashiCorp CLIs at this stack, as the operator CLI.

        Holds local admin credentials and the operator's Consul, Vault and Nomad tokens (never a management
        token): for this developer's shell and child processes only.
        """
        return control_env(self.state)

    def role_env(self, role: str) -> dict[str, str]:
        """``env()`` with the Consul and Nomad tokens of one role (scaler, reconciler, sales), for the process
        the stack or a test starts in that role: each holds its own, never the operator's or management's."""
        return control_env(self.state, role)

    def slot_env(self, telegram_api_base: str) -> dict[str, str]:
        """What a pool slot needs to know on this stack: where Consul, Vault, Telegram, PostgreSQL and Redis are.

        No credentials: a slot gets its tenant's secrets only through the Vault handoff. On two nodes a
        slot talks to the Consul agent of the node it runs on (its Nomad node's ``consul_http_addr``
        meta, which Nomad fills in when it starts the task), as in production.
        """
        s = self.state
        consul = "${meta.consul_http_addr}" if s.nodes > 1 else f"http://127.0.0.1:{s.ports['consul_http']}"
        return {
            "CONSUL_HTTP_ADDR": consul,
            "VAULT_ADDR": f"http://127.0.0.1:{s.ports['vault']}",
            "TELEGRAM_API_BASE": telegram_api_base,
            "BOTPOOL_TENANT_PG_HOST": "127.0.0.1",
            "BOTPOOL_TENANT_PG_PORT": str(s.ports["postgres"]),
            "BOTPOOL_TENANT_REDIS_HOST": "127.0.0.1",
            "BOTPOOL_TENANT_REDIS_PORT": str(s.ports["redis"]),
            # Both nodes run on this one machine: their slots take turns at their imports together.
            "BOTPOOL_START_TURNS_DIR": str(self.root / "start-turns"),
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
    def up(self, progress: Progress = lambda _msg: None, *, timeout: float = 120.0, nodes: int | None = None) -> None:
        """Start whatever is not running and wait until every service is healthy.

        ``nodes`` (1 or 2) changes how many Nomad client nodes the stack runs and is remembered;
        ``None`` keeps what the stack had (one node for a new stack). Going down to one node stops
        the second node with everything on it and removes it from Consul and Nomad.
        """
        if nodes is not None and not 1 <= nodes <= MAX_NODES:
            raise ValueError(f"the local stack runs 1 to {MAX_NODES} Nomad client nodes, not {nodes}")
        self.root.mkdir(parents=True, exist_ok=True)
        if self.tied:
            self._tie()
        if nodes is not None and nodes < self.state.nodes:
            self._remove_second_node(progress)
        if nodes is not None:
            self.state.nodes = nodes
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
        self._start(self.services, progress, timeout)
        self._write_env_file()

    def stop(self, name: str) -> None:
        """Stop one service (its process group) and keep its data; Nomad's tasks keep running without the agent."""
        service = self._service(name)
        pid = self.state.pids.pop(service.name, None)
        self.state.save()
        if pid is not None:
            process.stop(pid, sig=service.stop_signal)

    def start(self, name: str, *, timeout: float = 120.0) -> None:
        """Start one stopped service and wait until it is healthy again (Vault: unsealed)."""
        self._start((self._service(name),), lambda _msg: None, timeout)

    def restart(self, name: str, *, timeout: float = 120.0) -> None:
        """Restart one service on its data ("consul", "nomad", "vault", "postgres", "redis"), as an operator would.

        Returns once it is healthy again; Vault is unsealed by the stack. This is the
        fault the fault-injection suite injects: nothing stored may be lost by it.
        """
        self.stop(name)
        self.start(name, timeout=timeout)

    def lose_second_node(self) -> None:
        """SIGKILL the second node whole, as a machine that loses power: its Nomad client, every task on it
        and its Consul agent, all at once; the data stays. ``start("consul-2")`` and ``start("nomad-2")``
        bring it back."""
        orphans.kill_mentioning(f"{node2_dir(self.state)}/")  # the agent, the executors and the tasks at once
        for service in reversed(NODE2):
            pid = self.state.pids.pop(service.name, None)
            if pid is not None:
                process.stop(pid, sig=signal.SIGKILL)
        self.state.save()

    def down(self, progress: Progress = lambda _msg: None) -> None:
        """Stop every service and everything Nomad started, leaving no process behind; keep the data."""
        for service in reversed(ALL + NODE2 + SYSTEM):
            pid = self.state.pids.pop(service.name, None)
            if pid is not None:
                progress(f"stopping {service.name}")
                process.stop(pid, sig=service.stop_signal)
            if service.name == "nomad-2":
                orphans.kill_mentioning(f"{node2_dir(self.state)}/")
            if isinstance(service, Nomad):
                # Executors and raw_exec tasks outlive the agent by design; end them before the
                # services they talk to, so PostgreSQL's shutdown is not held up by their sessions.
                # The agent restarts the pool's tasks from its data on the next `up`.
                orphans.kill_mentioning(f"{self.root / 'nomad'}/")
        orphans.kill_mentioning(f"{self.root}/")
        orphans.unmount_under(self.root)
        if self.root.exists():
            self.state.save()

    def reset(self, progress: Progress = lambda _msg: None) -> None:
        """Stop everything and delete the stack's data and state: the next ``up`` starts from nothing."""
        self.down(progress)
        progress("deleting the stack's data")
        orphans.sweep(self.root)
        self._release_guard()
        self.state = StackState(root=self.root)

    # ----------------------------------------------------------------- helpers
    def _service(self, name: str) -> Service:
        for service in ALL + NODE2 + SYSTEM:
            if service.name == name:
                return service
        known = ", ".join(s.name for s in ALL + NODE2 + SYSTEM)
        raise ValueError(f"no service {name!r} in the local stack; known: {known}")

    def _remove_second_node(self, progress: Progress) -> None:
        """Stop the second node with its tasks, then forget it: Consul's agent leaves, Nomad purges the node."""
        for service in reversed(NODE2):
            pid = self.state.pids.pop(service.name, None)
            if pid is not None:
                progress(f"stopping {service.name}")
                process.stop(pid, sig=service.stop_signal)  # a Consul client agent leaves the cluster on SIGTERM
            if service.name == "nomad-2":
                orphans.kill_mentioning(f"{node2_dir(self.state)}/")
        self.state.save()
        nomad = f"http://127.0.0.1:{self.state.ports.get('nomad_http')}"
        consul = f"http://127.0.0.1:{self.state.ports.get('consul_http')}"
        as_nomad = acl.nomad_headers(self.state)
        as_consul = {"X-Consul-Token": acl.consul_token(self.state, "management")}
        try:
            nodes = httpx.get(f"{nomad}/v1/nodes", headers=as_nomad, timeout=10).json()
            for node in (n for n in nodes if n.get("Name") == SECOND_NODE):
                httpx.put(f"{nomad}/v1/node/{node['ID']}/purge", headers=as_nomad, timeout=10)
            httpx.put(f"{consul}/v1/agent/force-leave/{SECOND_NODE}?prune", headers=as_consul, timeout=10)
        except httpx.HTTPError:
            pass  # the servers are not running: the node shows as down or left; nothing runs on it any more

    def _start(self, services: tuple[Service, ...], progress: Progress, timeout: float) -> None:
        """Start each service that is not running, in dependency order, and wait until all are healthy."""
        started: set[str] = set()
        pending = list(services)
        deadline = time.monotonic() + timeout
        while pending:
            for service in list(pending):
                if any(dep in [p.name for p in pending] for dep in service.after):
                    continue
                pid = self.state.pids.get(service.name)
                if pid is None or not process.alive(pid):
                    if service.name in started:
                        raise DependencyUnavailable(
                            f"{service.name} exited during start; see {service.log(self.state)}:\n"
                            + _tail(service.log(self.state))
                        )
                    progress(f"starting {service.name}")
                    service.prepare(self.state)
                    self.state.pids[service.name] = process.spawn(
                        service.argv(self.state),
                        log=service.log(self.state),
                        env=service.env(self.state),
                        cwd=self.root,
                        user=service.user,
                        die_with_parent=self.tied,
                    )
                    self.state.save()
                    started.add(service.name)
                service.advance(self.state)
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
                time.sleep(0.1)

    def _tie(self) -> None:
        """Record this process as the stack's owner and start the guardian that removes the stack when it ends."""
        if self._guard is not None:
            return
        me = os.getpid()
        self.state.owner = {"pid": me, "start": process.start_time(me) or 0}
        read, write = os.pipe()  # both ends close-on-exec: only the guardian gets the read end, as its stdin
        log = self.root / "logs" / "guard.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            self._guard = subprocess.Popen(
                [sys.executable, "-m", "devstack.guard"],
                stdin=read,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                start_new_session=True,
            )
        os.close(read)
        os.write(write, f"{self.root}\n".encode())
        self._guard_pipe = write

    def _release_guard(self) -> None:
        """Tell the guardian its stack is gone (end of file) and wait for it to finish."""
        if self._guard_pipe is not None:
            os.close(self._guard_pipe)
            self._guard_pipe = None
        if self._guard is not None:
            self._guard.wait(timeout=30)
            self._guard = None

    def _assign_ports(self) -> None:
        taken = set(self.state.ports.values())
        for service in self.services:
            for label, preferred in service.port_labels.items():
                if label in self.state.ports:
                    continue
                self.state.ports[label] = ports.pick(None if self.random_ports else preferred, taken=taken)

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


__all__ = ["DEFAULT_ROOT", "MAX_NODES", "Nomad", "Service", "ServiceStatus", "Stack"]
