"""Pending ``/scale`` requests waiting for their confirmation button: single-use, for the admin who asked.

A request lives in this process only, for ``TTL_S``: a button older than that, from before a restart,
pressed twice, or pressed by another admin finds nothing to take and is told so. Taking is one
``dict.pop`` on the event loop, so two taps can never both apply it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

#: How long a confirmation button stays valid.
TTL_S = 300.0


@dataclass(frozen=True)
class Pending:
    """One requested count, who asked, and when the request lapses (monotonic seconds)."""

    admin_id: int
    count: int
    expires: float


class Confirmations:
    """The open requests, by nonce."""

    def __init__(self, ttl_s: float = TTL_S) -> None:
        """Start with none."""
        self.ttl_s = ttl_s
        self._open: dict[str, Pending] = {}

    def open(self, admin_id: int, count: int) -> str:
        """Record a request and return the nonce its button carries."""
        now = time.monotonic()
        self._open = {k: p for k, p in self._open.items() if p.expires > now}
        nonce = secrets.token_urlsafe(9)
        self._open[nonce] = Pending(admin_id, count, now + self.ttl_s)
        return nonce

    def take(self, nonce: str, admin_id: int) -> Pending | None:
        """Remove and return the request if it is open, unexpired and this admin's; None otherwise."""
        pending = self._open.get(nonce)
        if pending is None or pending.admin_id != admin_id:
            return None
        del self._open[nonce]
        return pending if pending.expires > time.monotonic() else None
