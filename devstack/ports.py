"""Free loopback ports, so the stack never clashes with anything already listening."""

from __future__ import annotations

import socket


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Return True when nothing listens on ``host:port`` and we could bind it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick(preferred: int | None = None, *, taken: set[int] | None = None) -> int:
    """Return ``preferred`` if it is free, else a free port the kernel chooses.

    ``taken`` holds ports already handed out in this process but not yet bound,
    so two services starting together never receive the same number.
    """
    taken = taken if taken is not None else set()
    if preferred and preferred not in taken and is_free(preferred):
        taken.add(preferred)
        return preferred
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in taken and is_free(port + 1):
            # Keep port+1 free too: Vault dev binds its cluster listener there.
            taken.add(port)
            return port
    raise RuntimeError("no free loopback port found")
