"""No credential of the stack leaks to slots, command lines or world-readable files; PostgreSQL's socket needs one.

The scenario is the developer's: a shell that sourced ``stack.env`` (the
operator's Vault token, the admin database and Redis URLs) starts or restarts the stack.
Nomad's raw_exec tasks inherit the agent's environment, so without a clean
environment every slot, whatever tenant it later serves, would hold them.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from botpool import jobspec, wiring
from botpool import settings as cfg
from botpool.pool import protocol
from devstack import process
from devstack.services import Postgres
from devstack.stack import Stack
from tests.fixtures.stack import PostgresHandle

#: Files larger than this are Raft logs and databases (all 0600); reading them whole would only cost time.
MAX_SCANNED = 16 * 1024 * 1024


def stack_secrets(stack: Stack) -> dict[str, bytes]:
    """Every credential the stack generated (the passwords inside its DSN and URL among them), by name."""
    return {name: value.encode() for name, value in stack.state.secrets.items() if len(value) >= 16}


def leaked(data: bytes, secrets: dict[str, bytes]) -> list[str]:
    """The names of the secrets ``data`` holds."""
    return [name for name, value in secrets.items() if value in data]


@pytest.fixture(scope="module")
async def slot_started_from_a_sourced_shell(stack: Stack, slot_env: dict[str, str]) -> AsyncIterator[str]:
    """A pool slot on a Nomad agent restarted from a shell holding every variable of ``stack.env``; its alloc id."""
    sourced = pytest.MonkeyPatch()
    for name, value in stack.env().items():
        sourced.setenv(name, value)
    try:
        stack.restart("nomad")
    finally:
        sourced.undo()
    env = stack.env()
    async with wiring.nomad(cfg.load(cfg.NomadSettings, env)) as nomad, wiring.consul(
        cfg.load(cfg.ConsulSettings, env)
    ) as consul:
        if await nomad.job(jobspec.POOL.id) is not None:
            await nomad.stop(jobspec.POOL.id, purge=True)
        await jobspec.submit_pool(nomad, count=1, env=slot_env)
        try:
            snap = await protocol.wait_until(consul, lambda s: len(s.free()) >= 1, timeout_s=120)
            yield snap.free()[0].alloc_id
        finally:
            await nomad.stop(jobspec.POOL.id, purge=True)
            await protocol.wait_until(consul, lambda s: not s.slots, timeout_s=60)


def test_a_slot_holds_no_credential_of_the_shell_that_started_the_stack(
    stack: Stack, slot_started_from_a_sourced_shell: str
) -> None:
    pids = process.slot_pids(slot_started_from_a_sourced_shell)
    assert pids, "the slot's bot_runtime process must be found"
    secrets = stack_secrets(stack)
    for pid in pids:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"CONSUL_HTTP_ADDR=" in environ, "this is the slot's environment"
        assert not leaked(environ, secrets), f"slot process {pid} holds {leaked(environ, secrets)}"
        names = {entry.split(b"=", 1)[0] for entry in environ.split(b"\0") if entry}
        assert not names & {b"VAULT_TOKEN", b"BOTPOOL_DATABASE_URL", b"BOTPOOL_REDIS_URL"}


def stack_processes(stack: Stack) -> list[int]:
    """Every process of the stack: its services, their children, Nomad's executors and tasks."""
    pids = set(process.processes_mentioning(f"{stack.root}/")) | set(stack.state.pids.values())
    for entry in Path("/proc").iterdir():  # children of the services (PostgreSQL's backends name no path)
        if entry.name.isdigit() and process.parent(int(entry.name)) in pids:
            pids.add(int(entry.name))
    return sorted(pid for pid in pids if process.alive(pid))


def test_no_process_of_the_stack_has_a_secret_on_its_command_line(
    stack: Stack, slot_started_from_a_sourced_shell: str
) -> None:
    secrets = stack_secrets(stack)
    pids = stack_processes(stack)
    assert set(stack.state.pids.values()) <= set(pids)
    assert set(process.slot_pids(slot_started_from_a_sourced_shell)) <= set(pids)
    found = {}
    for pid in pids:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue  # ended while we looked
        if names := leaked(cmdline, secrets):
            found[pid] = (cmdline.replace(b"\0", b" ")[:120], names)
    assert not found


def test_no_world_readable_file_of_the_stack_holds_a_secret(stack: Stack) -> None:
    secrets = stack_secrets(stack)
    exposed, scanned = [], 0
    for folder, _dirs, files in os.walk(stack.root):
        for name in files:
            path = Path(folder) / name
            try:
                info = path.lstat()
                if not stat.S_ISREG(info.st_mode) or not info.st_mode & stat.S_IROTH or info.st_size > MAX_SCANNED:
                    continue
                data = path.read_bytes()
            except OSError:
                continue  # removed while we walked
            scanned += 1
            if names := leaked(data, secrets):
                exposed.append((str(path.relative_to(stack.root)), oct(info.st_mode & 0o777), names))
    assert scanned, "the stack has world-readable files (configs, logs); none may hold a secret"
    assert not exposed


def psql_without_password(stack: Stack) -> subprocess.CompletedProcess[str]:
    """Connect as the superuser over the Unix socket with no password, never prompting (``-w``)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    return subprocess.run(
        ["psql", "-w", "-h", str(stack.root / "postgres" / "sockets"), "-p", str(stack.state.ports["postgres"]),
         "-U", "postgres", "-d", "postgres", "-tAc", "SELECT 1"],
        capture_output=True, text=True, env=env, timeout=30, check=False,
    )


def test_postgres_socket_logins_need_the_password_and_the_socket_folder_is_private(stack: Stack) -> None:
    done = psql_without_password(stack)
    assert done.returncode != 0 and "password" in done.stderr, done.stdout
    sockets = (stack.root / "postgres" / "sockets").stat()
    assert stat.S_IMODE(sockets.st_mode) == 0o700
    data = (stack.root / "postgres" / "data").stat()
    assert sockets.st_uid == data.st_uid, "owned by the account PostgreSQL runs as"


def test_a_cluster_from_before_the_rule_is_repaired_on_the_next_up(
    stack: Stack, postgres: PostgresHandle
) -> None:
    hba = stack.root / "postgres" / "data" / "pg_hba.conf"
    hardened = hba.read_text()
    sockets = stack.root / "postgres" / "sockets"
    # What an older devstack's initdb left: `trust` for socket logins, in a folder anyone may enter.
    lines = hardened.split("\n")
    old = [line.replace("scram-sha-256", "trust") if line.startswith("local") else line for line in lines]
    hba.write_text("\n".join(old))
    os.chmod(sockets, 0o755)  # noqa: S103 - the old state, repaired below
    Postgres()._psql(stack.state, "SELECT pg_reload_conf()")
    assert psql_without_password(stack).returncode == 0, "the old rule let anyone on the host in"

    Postgres().after_healthy(stack.state)  # what every `up` runs once PostgreSQL answers

    assert psql_without_password(stack).returncode != 0
    assert stat.S_IMODE(sockets.stat().st_mode) == 0o700
    assert hba.read_text() == hardened
