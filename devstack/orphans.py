"""Remove what a local stack leaves behind when its owner is gone: processes, Nomad's mounts, the folder.

A test run's stack lives in a temporary folder (``/tmp/botpool-*``) and must
die with the run. Normally the run tears it down, or its guardian does
(``devstack.guard``); if both were killed at once, ``botpool clean`` (``make
clean``) finds the stacks whose recorded owner process is gone and removes
them here. Every process of a stack names the stack's folder in its command
line or environment (Nomad's executors and tasks too, which are not children
of anything we started), so the folder is how they are found.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from devstack import process
from devstack.state import StackState

#: how every throwaway stack folder's name starts (tests, benchmarks)
TEMP_PREFIX = "botpool-"


def kill_mentioning(needle: str, *, timeout: float = 10.0) -> None:
    """SIGKILL every process that names ``needle`` until none is left (Nomad may spawn while we kill)."""
    deadline = time.monotonic() + timeout
    while pids := process.processes_mentioning(needle):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            return
        time.sleep(0.05)


def unmount_under(root: Path) -> None:
    """Unmount what Nomad mounted in the stack's folder (a tmpfs secrets dir per task when root), deepest first."""
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return
    prefix = f"{root}/"
    targets = [_unescape(line.split()[1]) for line in lines if len(line.split()) > 1]
    for target in sorted((t for t in targets if t.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", target], check=False, capture_output=True)


def sweep(root: Path) -> None:
    """Kill every process of the stack in ``root``, unmount what is mounted under it, and delete it."""
    kill_mentioning(f"{root}/")
    unmount_under(root)
    shutil.rmtree(root, ignore_errors=True)


def owner_alive(owner: dict[str, int]) -> bool:
    """Return True while the process a stack is tied to runs (the same process: pid and start time match)."""
    pid = owner.get("pid")
    return pid is not None and process.alive(pid) and process.start_time(pid) == owner.get("start")


def orphaned(temp_dir: Path | None = None) -> list[Path]:
    """Return the throwaway stacks in the temp dir whose owner is gone.

    A folder without ``stack.json`` is not a stack yet (a run that is still
    creating it, or a stand-in's log folder) and is left alone.
    """
    base = temp_dir or Path(tempfile.gettempdir())
    found = []
    for folder in sorted(base.glob(f"{TEMP_PREFIX}*")):
        if not folder.is_dir() or folder.is_symlink():
            continue
        try:
            state = StackState.load(folder)
        except (OSError, ValueError, TypeError, json.JSONDecodeError):
            state = StackState(root=folder)  # unreadable: nobody can be using it through the stack tooling
        if state is not None and not _owned(state):
            found.append(folder)
    return found


def _owned(state: StackState) -> bool:
    """Return True while the process that started the stack still runs.

    A stack written before owners were recorded counts as owned while any of
    its services is still a child of a living process (not re-parented to init).
    """
    if state.owner:
        return owner_alive(state.owner)
    return any(process.alive(pid) and process.parent(pid) not in (None, 1) for pid in state.pids.values())


def clean(temp_dir: Path | None = None) -> list[Path]:
    """Remove every orphaned stack (processes, mounts, folder); return the folders removed."""
    removed = orphaned(temp_dir)
    for folder in removed:
        sweep(folder)
    return removed


def _unescape(field: str) -> str:
    """Decode /proc/mounts' octal escapes (a space is written ``\\040``)."""
    return field.encode().decode("unicode_escape")
