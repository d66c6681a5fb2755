"""The time source of the booking bot, injectable so tests and demos can move time.

Why not ``datetime.now()`` inline: minimum notice, cut-offs, hold expiry and
reminders all depend on "now"; a test of a reminder due in 24 hours must not
wait 24 hours, and a test across a daylight-saving change must be able to
stand on either side of it. Every decision takes ``now`` from a ``Clock``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything callable that returns the current instant as an aware UTC datetime."""

    def __call__(self) -> datetime:
        """Return now, aware, in UTC."""
        ...


def system_clock() -> datetime:
    """Return the real current time in UTC; the default clock."""
    return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until told to move: for tests, benchmarks and demos."""

    def __init__(self, start: datetime) -> None:
        """Start at ``start`` (must be aware)."""
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self.now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        """Return the clock's current instant."""
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        """Move forward by ``delta`` and return the new instant."""
        self.now += delta
        return self.now

    def set(self, instant: datetime) -> None:
        """Jump to ``instant`` (aware)."""
        self.now = instant.astimezone(UTC)
