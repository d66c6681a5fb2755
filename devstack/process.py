"""Detached child processes that outlive the command that started them.

``botpool up`` returns while the stack keeps running, and ``botpool down`` (a
different process) must stop everything, so each service runs in its own
session (process group) and its pid is recorded; stopping signals the whole
group, which also ends anything the service spawned.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from pathlib import Path


def spawn(
    argv: list[str],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> int:
    """Start ``argv`` detached with output appended to ``log``; return its pid.

    ``user`` runs the process as another account (PostgreSQL refuses to run as
    root); it only applies when we are root.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    preexec = None
    if user is not None and os.geteuid() == 0:
        record = pwd.getpwnam(user)
        full_env.update(HOME=record.pw_dir, USER=user, LOGNAME=user)

        def preexec() -> None:
            os.setgid(record.pw_gid)
            os.initgroups(user, record.pw_gid)
            os.setuid(record.pw_uid)

    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=preexec,
        )
    return proc.pid


def alive(pid: int) -> bool:
    """Return True while ``pid`` runs (a zombie of ours counts as dead)."""
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stop(pid: int, *, timeout: float = 15.0) -> None:
    """Stop a process group politely (SIGTERM), then firmly (SIGKILL) after ``timeout``."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not alive(pid) and not _group_alive(pid):
                return
            time.sleep(0.1)


def _group_alive(pgid: int) -> bool:
    """Return True if any process still belongs to process group ``pgid``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().split(") ", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _ancestors() -> set[int]:
    """This process and every parent up to init."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            pid = int((Path("/proc") / str(pid) / "stat").read_text().split(") ", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def processes_mentioning(needle: str) -> list[int]:
    """Return pids whose command line or environment contains ``needle``.

    Nomad's executors and the raw_exec tasks they run are designed to survive an
    agent restart, so stopping the agent's process group does not end them; they
    all carry the stack's data dir in their arguments or ``NOMAD_*`` variables.
    """
    found = []
    raw = needle.encode()
    spare = _ancestors()  # e.g. `uv run botpool down --root DIR` mentions DIR in its own command line
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in spare:
            continue
        try:
            if raw in (entry / "cmdline").read_bytes() or raw in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found
