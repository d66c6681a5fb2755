"""Slots starting on one node take turns at their one CPU-heavy step: importing aiogram (about 5 s of CPU).

When many slots start at once (a scale-up while a drained node's slots are
replaced elsewhere: 17 at once in the fault suite), each gets an equal share
of the node's CPU, so all of them finish importing together and the *first*
is ready only when the last is: on a busy 2-core machine about 90 s after
Nomad showed them running, while tenants waited for any free slot. Taking
turns (an exclusive ``flock`` on one file per node) costs the last slot
nothing and makes the first one ready after one import, the next after two.

The lock file sits in the Nomad client's data directory (two levels above
``NOMAD_ALLOC_DIR``), so slots of one node share it and nothing else does; the
kernel drops a dead holder's lock. Anywhere the file cannot be made (a
read-only container file system, no Nomad), the slot simply does not wait.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_NAME = "botpool-slot-start.lock"


def lock_path(environ: dict[str, str] | None = None) -> Path | None:
    """The node's lock file: beside the ``alloc`` directory of the Nomad client running this slot, if known."""
    alloc_dir = (environ if environ is not None else dict(os.environ)).get("NOMAD_ALLOC_DIR")
    if not alloc_dir:
        return None
    parents = Path(alloc_dir).resolve().parents
    return parents[2] / LOCK_NAME if len(parents) > 2 else None  # <data_dir>/alloc/<id>/alloc


@contextlib.contextmanager
def turn(path: Path | None = None) -> Iterator[None]:
    """Hold the node's start turn for the block (blocking until it is ours); a no-op if there is no lock file."""
    path = path if path is not None else lock_path()
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600) if path is not None else None
    except OSError:
        fd = None
    if fd is None:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
