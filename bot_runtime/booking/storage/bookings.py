"""Bookings and holds: the rows the exclusion constraint protects.

Why the checks are repeated here although the screens already showed only
free times: the screens may be minutes old (a stale button, a second client
faster than the first). Every write re-checks the rules on fresh data inside
its transaction, and the database's exclusion constraint settles the race
that no application check can: of two overlapping active rows for one
master, only one ever commits.

Why one module of about 500 lines: every state change of a booking (hold,
confirm, move, cancel, approve, no-show, rating) is a conditional UPDATE
whose expected status must agree with the others; side by side they read as
the booking's state machine, which splitting would scatter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

import asyncpg

from bot_runtime.booking.domain.availability import Interval, local_instant, slot_is_free
from bot_runtime.booking.storage.catalog import Service, load_calendars
from bot_runtime.booking.storage.settings import Settings
from bot_runtime.booking.storage.types import Conn, Tx

ACTIVE = ("pending", "confirmed")


@dataclass(frozen=True)
class Booking:
    """A booking (or hold) with its master's and client's display fields joined in."""

    id: int
    client_id: int | None
    master_id: int
    master_name: str
    service_ids: tuple[int, ...]
    title: str
    starts_at: datetime
    ends_at: datetime
    status: str
    price: Decimal
    price_max: Decimal | None
    source: str
    rating: int | None
    hold_expires_at: datetime | None
    held_by: int | None
    client_name: str | None
    client_telegram_id: int | None
    client_username: str | None
    client_phone: str | None
    client_language: str | None

    @property
    def active(self) -> bool:
        """True while the booking holds its time (pending approval or confirmed)."""
        return self.status in ACTIVE

    @property
    def duration(self) -> timedelta:
        """Length of the visit."""
        return self.ends_at - self.starts_at


SELECT = """
SELECT b.id, b.client_id, b.master_id, m.name AS master_name, b.service_ids, b.title, b.starts_at,
       b.ends_at, b.status, b.price, b.price_max, b.source, b.rating, b.hold_expires_at, b.held_by,
       c.name AS client_name, c.telegram_id AS client_telegram_id, c.username AS client_username,
       c.phone AS client_phone, c.language AS client_language
FROM bookings b JOIN masters m ON m.id = b.master_id LEFT JOIN clients c ON c.id = b.client_id
"""


def from_row(row: asyncpg.Record) -> Booking:
    """Build a ``Booking`` from a row selected with ``SELECT``."""
    return Booking(
        id=row["id"],
        client_id=row["client_id"],
        master_id=row["master_id"],
        master_name=row["master_name"],
        service_ids=tuple(row["service_ids"]),
        title=row["title"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        status=row["status"],
        price=row["price"],
        price_max=row["price_max"],
        source=row["source"],
        rating=row["rating"],
        hold_expires_at=row["hold_expires_at"],
        held_by=row["held_by"],
        client_name=row["client_name"],
        client_telegram_id=row["client_telegram_id"],
        client_username=row["client_username"],
        client_phone=row["client_phone"],
        client_language=row["client_language"],
    )


async def get(conn: Conn, booking_id: int) -> Booking | None:
    """Return one booking or hold, or None."""
    row = await conn.fetchrow(SELECT + " WHERE b.id = $1", booking_id)
    return from_row(row) if row else None


def visit_of(services: Sequence[Service]) -> tuple[str, timedelta, Decimal, Decimal | None]:
    """Return title, total duration and price (range) of a multi-service visit."""
    title = " + ".join(s.name for s in services)[:200]
    duration = timedelta(minutes=sum(s.duration_min for s in services))
    price = sum((s.price for s in services), Decimal(0))
    has_range = any(s.price_max is not None for s in services)
    price_max = sum((s.price_max or s.price for s in services), Decimal(0)) if has_range else None
    return title, duration, price, price_max


async def _day_calendar_ok(
    conn: Tx,
    master_id: int,
    start: datetime,
    duration: timedelta,
    settings: Settings,
    tz: ZoneInfo,
    now: datetime,
    *,
    enforce_notice: bool,
    ignore_booking: int | None = None,
) -> bool:
    day = start.astimezone(tz).date()
    window_start = local_instant(day, 0, tz) - timedelta(days=1)
    window_end = local_instant(day, 1440, tz) + timedelta(days=1)
    calendars = await load_calendars(conn, [master_id], window_start, window_end, now, ignore_booking=ignore_booking)
    return slot_is_free(start, tz, duration, settings.rules(), calendars[0], now, enforce_notice=enforce_notice)


async def hold(
    conn: Tx,
    *,
    master_ids: Sequence[int],
    start: datetime,
    services: Sequence[Service],
    client_id: int | None,
    held_by: int,
    source: Literal["client", "admin"],
    settings: Settings,
    tz: ZoneInfo,
    now: datetime,
    enforce_notice: bool = True,
) -> Booking | None:
    """Hold ``start`` with the first of ``master_ids`` who is free then; None when nobody is.

    The hold is an active row, so from its commit on no other hold or
    booking of that master can overlap it. Expired holds in the way are
    deleted first: their owners walked away.
    """
    title, duration, price, price_max = visit_of(services)
    end = start + duration
    busy_from = start - timedelta(minutes=settings.buffer_before_min)
    busy_to = end + timedelta(minutes=settings.buffer_after_min)
    expires = now + timedelta(minutes=settings.hold_min)
    for master_id in master_ids:
        try:
            async with conn.transaction():
                await conn.execute(
                    "DELETE FROM bookings WHERE status = 'held' AND hold_expires_at <= $1 AND master_id = $2"
                    " AND tstzrange(busy_from, busy_to) && tstzrange($3, $4)",
                    now,
                    master_id,
                    busy_from,
                    busy_to,
                )
                if not await _day_calendar_ok(
                    conn, master_id, start, duration, settings, tz, now, enforce_notice=enforce_notice
                ):
                    continue
                row = await conn.fetchrow(
                    "WITH b AS (INSERT INTO bookings (client_id, master_id, service_ids, title, starts_at, ends_at,"
                    " busy_from, busy_to, status, hold_expires_at, held_by, price, price_max, source)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'held', $9, $10, $11, $12, $13) RETURNING *)"
                    + SELECT.replace("FROM bookings b", "FROM b"),
                    client_id,
                    master_id,
                    [s.id for s in services],
                    title,
                    start,
                    end,
                    busy_from,
                    busy_to,
                    expires,
                    held_by,
                    price,
                    price_max,
                    source,
                )
        except asyncpg.ExclusionViolationError:
            continue
        assert row is not None
        return from_row(row)
    return None


async def release_hold(conn: Conn, booking_id: int, held_by: int) -> None:
    """Give a held slot back (the client went back or chose another time)."""
    await conn.execute("DELETE FROM bookings WHERE id = $1 AND status = 'held' AND held_by = $2", booking_id, held_by)


async def count_active(conn: Conn, client_id: int, now: datetime) -> int:
    """Return how many upcoming active bookings a client has (for the per-client limit)."""
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM bookings WHERE client_id = $1 AND status IN ('pending', 'confirmed')"
            " AND starts_at > $2",
            client_id,
            now,
        )
    )


ConfirmFailure = Literal["hold_lost", "too_late", "too_many"]


async def confirm_hold(
    conn: Tx,
    *,
    booking_id: int,
    held_by: int,
    client_id: int,
    status: Literal["pending", "confirmed"],
    settings: Settings,
    now: datetime,
    enforce_limits: bool = True,
) -> Booking | ConfirmFailure:
    """Turn a hold into a booking inside the caller's transaction.

    A hold row that still exists still owns its time even past its expiry
    (anyone else would have had to delete it first), so a slow client is
    confirmed as long as the minimum notice still holds.
    """
    row = await conn.fetchrow(
        "SELECT starts_at FROM bookings WHERE id = $1 AND status = 'held' AND held_by = $2 FOR UPDATE",
        booking_id,
        held_by,
    )
    if row is None:
        return "hold_lost"
    if enforce_limits:
        if row["starts_at"] < now + timedelta(minutes=settings.min_notice_min):
            return "too_late"
        # Serialise confirmations of one client so two parallel flows cannot pass the limit together.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('booking-client'), $1::int)", client_id % 2**31)
        if await count_active(conn, client_id, now) >= settings.max_active_per_client:
            return "too_many"
    row = await conn.fetchrow(
        "WITH b AS (UPDATE bookings SET status = $2, client_id = $3, hold_expires_at = NULL, updated_at = $4"
        " WHERE id = $1 RETURNING *)" + SELECT.replace("FROM bookings b", "FROM b"),
        booking_id,
        status,
        client_id,
        now,
    )
    assert row is not None
    booking = from_row(row)
    if status == "confirmed":
        await plan_reminders(conn, booking, settings, now)
    return booking


async def plan_reminders(conn: Tx, booking: Booking, settings: Settings, now: datetime) -> None:
    """Replace the booking's unsent reminders with ones for its current time.

    Reminders already due (a booking made two hours ahead needs no 24-hour
    reminder) are not planned; sent ones stay as history.
    """
    await conn.execute("DELETE FROM reminders WHERE booking_id = $1 AND sent_at IS NULL", booking.id)
    rows: list[tuple[int, str, int, datetime]] = []
    for offset in settings.reminder_offsets_min:
        due = booking.starts_at - timedelta(minutes=offset)
        if due > now:
            rows.append((booking.id, "before", offset, due))
    if settings.rating_after_min > 0:
        rows.append(
            (
                booking.id,
                "rating",
                settings.rating_after_min,
                booking.ends_at + timedelta(minutes=settings.rating_after_min),
            )
        )
    if rows:
        await conn.executemany(
            "INSERT INTO reminders (booking_id, kind, offset_min, due_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (booking_id, kind, due_at) DO NOTHING",
            rows,
        )


MoveFailure = Literal["not_found", "not_active", "cutoff", "taken"]


async def move(
    conn: Tx,
    *,
    booking_id: int,
    new_start: datetime,
    settings: Settings,
    tz: ZoneInfo,
    now: datetime,
    client_id: int | None,
) -> tuple[Booking, Booking] | MoveFailure:
    """Move a booking to ``new_start`` (same master, same services) inside the caller's transaction.

    ``client_id`` set means the client asked: the booking must be theirs and
    outside the cut-off, and notice and horizon apply; the owner (None) may
    move any active booking to any free time. Returns (before, after).
    """
    before = await conn.fetchrow(SELECT + " WHERE b.id = $1 FOR UPDATE OF b", booking_id)
    if before is None or (client_id is not None and before["client_id"] != client_id):
        return "not_found"
    old = from_row(before)
    if not old.active:
        return "not_active"
    if client_id is not None and now > old.starts_at - settings.cutoff:
        return "cutoff"
    duration = old.duration
    if not await _day_calendar_ok(
        conn,
        old.master_id,
        new_start,
        duration,
        settings,
        tz,
        now,
        enforce_notice=client_id is not None,
        ignore_booking=old.id,
    ):
        return "taken"
    busy_from = new_start - timedelta(minutes=settings.buffer_before_min)
    busy_to = new_start + duration + timedelta(minutes=settings.buffer_after_min)
    await conn.execute(
        "DELETE FROM bookings WHERE status = 'held' AND hold_expires_at <= $1 AND master_id = $2"
        " AND tstzrange(busy_from, busy_to) && tstzrange($3, $4)",
        now,
        old.master_id,
        busy_from,
        busy_to,
    )
    try:
        async with conn.transaction():
            await conn.execute(
                "UPDATE bookings SET starts_at = $2, ends_at = $3, busy_from = $4, busy_to = $5, updated_at = $6"
                " WHERE id = $1",
                old.id,
                new_start,
                new_start + duration,
                busy_from,
                busy_to,
                now,
            )
    except asyncpg.ExclusionViolationError:
        return "taken"
    new = await get(conn, old.id)
    assert new is not None
    if new.status == "confirmed":
        await plan_reminders(conn, new, settings, now)
    return old, new


CancelFailure = Literal["not_found", "not_active", "cutoff"]


async def cancel(
    conn: Tx,
    *,
    booking_id: int,
    by: Literal["client", "admin", "block"],
    settings: Settings,
    now: datetime,
    client_id: int | None = None,
) -> Booking | CancelFailure:
    """Cancel an active booking inside the caller's transaction and drop its unsent reminders."""
    row = await conn.fetchrow(SELECT + " WHERE b.id = $1 FOR UPDATE OF b", booking_id)
    if row is None or (client_id is not None and row["client_id"] != client_id):
        return "not_found"
    booking = from_row(row)
    if not booking.active:
        return "not_active"
    if client_id is not None and now > booking.starts_at - settings.cutoff:
        return "cutoff"
    await conn.execute(
        "UPDATE bookings SET status = 'cancelled', cancelled_by = $2, updated_at = $3 WHERE id = $1",
        booking_id,
        by,
        now,
    )
    await conn.execute("DELETE FROM reminders WHERE booking_id = $1 AND sent_at IS NULL", booking_id)
    cancelled = await get(conn, booking_id)
    assert cancelled is not None
    return cancelled


async def approve(conn: Tx, booking_id: int, settings: Settings, now: datetime) -> Booking | None:
    """Confirm a booking waiting for the owner's approval; None if it is no longer pending."""
    status = await conn.execute(
        "UPDATE bookings SET status = 'confirmed', updated_at = $2 WHERE id = $1 AND status = 'pending'",
        booking_id,
        now,
    )
    if not status.endswith(" 1"):
        return None
    booking = await get(conn, booking_id)
    assert booking is not None
    await plan_reminders(conn, booking, settings, now)
    return booking


async def mark_no_show(conn: Conn, booking_id: int, now: datetime) -> Booking | None:
    """Mark a started confirmed booking as a no-show; None when that does not apply."""
    status = await conn.execute(
        "UPDATE bookings SET status = 'no_show', updated_at = $2 WHERE id = $1 AND status = 'confirmed'"
        " AND starts_at <= $2",
        booking_id,
        now,
    )
    if not status.endswith(" 1"):
        return None
    await conn.execute("DELETE FROM reminders WHERE booking_id = $1 AND sent_at IS NULL", booking_id)
    return await get(conn, booking_id)


async def set_rating(conn: Conn, booking_id: int, client_id: int, stars: int) -> bool:
    """Store the client's rating of a past visit once; False when not theirs or already rated."""
    status = await conn.execute(
        "UPDATE bookings SET rating = $3 WHERE id = $1 AND client_id = $2 AND rating IS NULL AND status = 'confirmed'",
        booking_id,
        client_id,
        stars,
    )
    return status.endswith(" 1")


async def upcoming_for_client(conn: Conn, client_id: int, now: datetime, limit: int = 10) -> list[Booking]:
    """Return a client's active bookings that have not started, soonest first."""
    rows = await conn.fetch(
        SELECT + " WHERE b.client_id = $1 AND b.status IN ('pending', 'confirmed') AND b.starts_at > $2"
        " ORDER BY b.starts_at LIMIT $3",
        client_id,
        now,
        limit,
    )
    return [from_row(r) for r in rows]


async def history_for_client(conn: Conn, client_id: int, limit: int = 10) -> list[Booking]:
    """Return a client's latest bookings of any status, newest first, for the client card."""
    rows = await conn.fetch(
        SELECT + " WHERE b.client_id = $1 AND b.status <> 'held' ORDER BY b.starts_at DESC LIMIT $2",
        client_id,
        limit,
    )
    return [from_row(r) for r in rows]


async def between(conn: Conn, start: datetime, end: datetime, *, include_cancelled: bool = False) -> list[Booking]:
    """Return bookings starting in ``[start, end)`` by time: the owner's day and week schedule."""
    statuses = ["pending", "confirmed", "no_show"] + (["cancelled"] if include_cancelled else [])
    rows = await conn.fetch(
        SELECT + " WHERE b.starts_at >= $1 AND b.starts_at < $2 AND b.status = ANY($3::text[])"
        " ORDER BY b.starts_at, m.name",
        start,
        end,
        statuses,
    )
    return [from_row(r) for r in rows]


async def pending(conn: Conn, now: datetime, limit: int = 20) -> list[Booking]:
    """Return bookings waiting for the owner's approval, soonest first."""
    rows = await conn.fetch(
        SELECT + " WHERE b.status = 'pending' AND b.starts_at > $1 ORDER BY b.starts_at LIMIT $2", now, limit
    )
    return [from_row(r) for r in rows]


async def affected_by(conn: Tx, master_id: int | None, spans: Sequence[Interval]) -> list[int]:
    """Return ids of active bookings whose visit overlaps ``spans`` (for one master or all)."""
    ids: list[int] = []
    for span in spans:
        rows = await conn.fetch(
            "SELECT id FROM bookings WHERE status IN ('pending', 'confirmed')"
            " AND starts_at < $3 AND starts_at > $2::timestamptz - interval '1 day' AND ends_at > $2"
            " AND ($1::int IS NULL OR master_id = $1) ORDER BY starts_at",
            master_id,
            span.start,
            span.end,
        )
        ids.extend(r["id"] for r in rows if r["id"] not in ids)
    return ids


async def cleanup_holds(conn: Conn, now: datetime) -> int:
    """Delete expired holds; returns how many. Run by the worker so stale holds never pile up."""
    status = await conn.execute("DELETE FROM bookings WHERE status = 'held' AND hold_expires_at <= $1", now)
    return int(status.split()[-1])
