"""Detached child processes that outlive the command that started them, or die with it on request.

``botpool up`` returns while the stack keeps running, and ``botpool down`` (a
different process) must stop everything, so each service runs in its own
session (process group) and its pid is recorded; stopping signals the whole
group, which also ends anything the service spawned.

A test run's stack must instead die with the run, however it ends: such
processes are spawned with a parent-death signal (``PR_SET_PDEATHSIG``), set
from one long-lived spawner thread because Linux sends the signal when the
*thread* that forked the child exits, and an asyncio worker thread may exit
long before the run does.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded before any fork: the child only calls it
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="devstack-spawner")


#: All a stack process takes from the environment of whoever started it; the rest comes from ``spawn``'s ``env``.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


def minimal_env() -> dict[str, str]:
    """The caller's variables a child process may see: where programs are, a home, a locale and a temp folder.

    Nothing else: a developer's shell that sourced ``stack.env`` holds the
    operator's Vault token and the admin database and Redis URLs, and Nomad's
    raw_exec tasks inherit the agent's environment, so whatever the agent
    inherited would reach every slot.
    """
    return {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}


def spawn(
    argv: list[str],
    *,
    log: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
    die_with_parent: bool = False,
) -> int:
    """Start ``argv`` detached with output appended to ``log``; return its pid.

    The process sees ``minimal_env()`` and ``env``, never the rest of this
    process's environment. ``user`` runs the process as another account
    (PostgreSQL refuses to run as root); it only applies when we are root. ``die_with_parent`` has the kernel
    SIGKILL the process when this one ends, even by SIGKILL (the test stack).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**minimal_env(), **(env or {})}
    switch_user: Callable[[], None] | None = None
    if user is not None and os.geteuid() == 0:
        record = pwd.getpwnam(user)
        full_env.update(HOME=record.pw_dir, USER=user, LOGNAME=user)

        def switch_user() -> None:
            os.setgid(record.pw_gid)
            os.initgroups(user, record.pw_gid)
            os.setuid(record.pw_uid)

    if not die_with_parent:
        return _popen(argv, log, full_env, cwd, switch_user)
    parent = os.getpid()

    def tie_to_parent() -> None:
        if switch_user is not None:
            switch_user()  # first: a change of user clears the parent-death signal
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGKILL)

    if threading.current_thread() is threading.main_thread():
        return _popen(argv, log, full_env, cwd, tie_to_parent)
    return _SPAWNER.submit(_popen, argv, log, full_env, cwd, tie_to_parent).result()


def _popen(
    argv: list[str], log: Path, env: dict[str, str], cwd: Path | None, preexec: Callable[[], None] | None
) -> int:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=preexec,
        )
    return proc.pid


def start_time(pid: int) -> int | None:
    """Return when ``pid`` started (clock ticks since boot), so a reused pid is not mistaken for its owner."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def parent(pid: int) -> int | None:
    """Return the parent of ``pid`` (1 once its parent died and init adopted it), or None if it is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


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


def stop(pid: int, *, timeout: float = 15.0, sig: signal.Signals = signal.SIGTERM) -> None:
    """Stop a process group politely (``sig``), then firmly (SIGKILL) after ``timeout``."""
    for signum, wait in ((sig, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            return
        except PermissionError:
            os.kill(pid, signum)
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


def slot_pids(alloc_id: str) -> list[int]:
    """The bot runtime process(es) of one allocation (not its Nomad executor)."""
    found = []
    for pid in processes_mentioning(alloc_id):
        with contextlib.suppress(OSError):
            if b"bot_runtime" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
    return found


def processes_mentioning(needle: str) -> list[int]:
    """Return pids whose command line or environment contains ``needle``, or whose working directory is in it.

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
                continue
        except OSError:
            continue
        try:
            # Nomad's logmon plugins name nothing of the stack, but run in its data dir (even once deleted).
            if (os.readlink(entry / "cwd").removesuffix(" (deleted)") + "/").startswith(needle):
                found.append(int(entry.name))
        except OSError:
            continue
    return found
