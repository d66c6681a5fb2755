"""The tenant's booking rules: one row the owner edits from Telegram.

Why a row and not process memory or config: the owner changes the slot step
or the cut-off at any time and the change must survive restarts and moves of
the bot to another slot; it is read on every update together with the
client's row, so there is no cache to go stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from bot_runtime.booking.domain.availability import Rules
from bot_runtime.booking.storage.types import Conn

#: Integer settings the owner may set, with their allowed ranges (mirrors the CHECKs).
INT_SETTINGS: dict[str, tuple[int, int]] = {
    "slot_step_min": (5, 240),
    "buffer_before_min": (0, 240),
    "buffer_after_min": (0, 240),
    "horizon_days": (1, 365),
    "min_notice_min": (0, 20160),
    "cancel_cutoff_min": (0, 20160),
    "hold_min": (1, 120),
    "rating_after_min": (0, 10080),
    "max_active_per_client": (1, 100),
}

SETTINGS_COLUMNS = (
    "slot_step_min, buffer_before_min, buffer_after_min, horizon_days, min_notice_min, "
    "cancel_cutoff_min, hold_min, auto_confirm, reminder_offsets_min, rating_after_min, "
    "max_active_per_client"
)


@dataclass(frozen=True)
class Settings:
    """A snapshot of the booking rules, taken once per update."""

    slot_step_min: int = 30
    buffer_before_min: int = 0
    buffer_after_min: int = 0
    horizon_days: int = 30
    min_notice_min: int = 60
    cancel_cutoff_min: int = 1440
    hold_min: int = 10
    auto_confirm: bool = True
    reminder_offsets_min: tuple[int, ...] = (1440, 120)
    rating_after_min: int = 120
    max_active_per_client: int = 3

    @classmethod
    def from_record(cls, row: asyncpg.Record) -> Settings:
        """Build from a row that holds the settings columns (possibly among others)."""
        return cls(
            slot_step_min=row["slot_step_min"],
            buffer_before_min=row["buffer_before_min"],
            buffer_after_min=row["buffer_after_min"],
            horizon_days=row["horizon_days"],
            min_notice_min=row["min_notice_min"],
            cancel_cutoff_min=row["cancel_cutoff_min"],
            hold_min=row["hold_min"],
            auto_confirm=row["auto_confirm"],
            reminder_offsets_min=tuple(row["reminder_offsets_min"]),
            rating_after_min=row["rating_after_min"],
            max_active_per_client=row["max_active_per_client"],
        )

    def rules(self) -> Rules:
        """Return the subset the availability computation needs."""
        return Rules(
            step=timedelta(minutes=self.slot_step_min),
            buffer_before=timedelta(minutes=self.buffer_before_min),
            buffer_after=timedelta(minutes=self.buffer_after_min),
            horizon_days=self.horizon_days,
            min_notice=timedelta(minutes=self.min_notice_min),
        )

    @property
    def cutoff(self) -> timedelta:
        """How long before a visit the client may still cancel or move it."""
        return timedelta(minutes=self.cancel_cutoff_min)


async def load(conn: Conn) -> Settings:
    """Read the settings row."""
    row = await conn.fetchrow(f"SELECT {SETTINGS_COLUMNS} FROM settings")
    assert row is not None, "migration 0001 inserts the settings row"
    return Settings.from_record(row)


async def set_int(conn: Conn, name: str, value: int) -> None:
    """Change one integer setting; raises ValueError outside its allowed range."""
    low, high = INT_SETTINGS[name]
    if not low <= value <= high:
        raise ValueError(name)
    await conn.execute(f"UPDATE settings SET {name} = $1, updated_at = now()", value)


async def set_auto_confirm(conn: Conn, value: bool) -> None:
    """Switch between auto-confirmation and manual approval by the owner."""
    await conn.execute("UPDATE settings SET auto_confirm = $1, updated_at = now()", value)


async def set_reminders(conn: Conn, offsets: list[int]) -> None:
    """Set the reminder times before a visit, in minutes; applies to bookings confirmed later."""
    await conn.execute("UPDATE settings SET reminder_offsets_min = $1, updated_at = now()", offsets)
