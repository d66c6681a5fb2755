"""The guardian of a stack tied to a process (a test run): when that process ends, however, remove the stack.

``python -m devstack.guard`` reads the stack's folder from its stdin, a pipe
whose only writer is the owner, then waits for end-of-file: the kernel closes
the pipe when the owner exits, even by SIGKILL, which no signal handler can
catch. Then it kills every process of the stack (Nomad's executors and tasks
included, which the parent-death signal does not reach), unmounts Nomad's
mounts and deletes the folder. It runs in a session of its own, so the
terminal's Ctrl-C or a signal to the run's process group does not end it first.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from devstack import orphans


def main() -> None:
    """Wait for the owner to go, then sweep its stack."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    root = Path(sys.stdin.buffer.readline().decode().strip())
    while os.read(0, 4096):
        pass
    if root.is_absolute() and (root.name.startswith(orphans.TEMP_PREFIX) or (root / "stack.json").exists()):
        orphans.sweep(root)


if __name__ == "__main__":
    main()
