"""Test data for the booking bot: a small salon, and a year of bookings for the load tests."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot_runtime.booking.domain.availability import local_instant
from devstack.booking_seed import Salon, seed_salon, seed_year

__all__ = ["Salon", "at", "seed_salon", "seed_year"]


def at(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    """Return the UTC instant of a local wall time on ``day``."""
    hours, minutes = map(int, hhmm.split(":"))
    return local_instant(day, hours * 60 + minutes, tz)
