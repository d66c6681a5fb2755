"""Turns at a slot's start: on one machine, at most one slot per core pays the big imports at a time.

A new slot imports aiogram and the booking bot (about 5 s of CPU) before its
health check can pass. When many start at once (a node drained or lost, the
scaler's batch) they share the CPU evenly and all become free together, the
first as late as the last: on 2 cores, 7 slots took 20-26 s before the first
was free, while tenants moving off a draining node waited for exactly that
first slot. Taking turns makes the first free after one import.

A turn is an exclusive ``flock`` on one of N files in a directory of the
machine (``BOTPOOL_START_TURNS_DIR``; N is ``BOTPOOL_START_TURNS``, by default
the machine's cores): the kernel hands it back if the slot dies, and no
server is involved. Without the directory there are no turns (in production
each slot is a container with its own CPU limit). A slot never waits longer
than ``BOTPOOL_START_TURN_WAIT_S`` (30 s) for a turn and then starts anyway,
because a slot waiting for its turn gets no share of a busy machine at all
(turns of one at a time once left ten slots more than 180 s from ready).

Written by hand, with the standard library only: it runs before the imports
it rations, so neither the settings loader (pydantic) nor a locking library
may be imported yet.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator

#: Between two looks for a free turn: short against a 5 s import, long enough to cost no CPU.
POLL_S = 0.1


@contextlib.contextmanager
def turn(env: dict[str, str] | None = None) -> Iterator[bool]:
    """Hold one start turn of this machine while the body runs; yields whether a turn was held."""
    env = dict(os.environ) if env is None else env
    directory = env.get("BOTPOOL_START_TURNS_DIR", "")
    if not directory:
        yield False
        return
    try:
        turns = max(1, int(env.get("BOTPOOL_START_TURNS") or os.cpu_count() or 1))
        wait_s = float(env.get("BOTPOOL_START_TURN_WAIT_S") or 30)
    except ValueError:
        raise SystemExit(
            "bot_runtime: BOTPOOL_START_TURNS must be a whole number and BOTPOOL_START_TURN_WAIT_S a number of seconds"
        ) from None
    deadline = time.monotonic() + wait_s
    held = _take(directory, turns, deadline)
    try:
        yield held is not None
    finally:
        if held is not None:
            os.close(held)  # closing the descriptor releases the lock


def _take(directory: str, turns: int, deadline: float) -> int | None:
    """The descriptor of a locked turn file, or None once the deadline passed (or the directory is unusable)."""
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return None
    while True:
        for n in range(turns):
            try:
                fd = os.open(os.path.join(directory, f"turn-{n}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return fd
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_S)  # a turn frees when another slot's imports end; nothing to block on across processes
