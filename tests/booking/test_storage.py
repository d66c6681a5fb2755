"""The database keeps bookings consistent on its own: overlaps, races, holds, reminders (real PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from bot_runtime.booking import MIGRATIONS
from bot_runtime.booking.clock import ManualClock
from bot_runtime.booking.storage import bookings, catalog
from bot_runtime.booking.storage import settings as settings_repo
from botpool.db import migrations
from tests.booking.support import Salon, at, seed_salon

MSK = ZoneInfo("Europe/Moscow")
TUESDAY = date(2025, 3, 11)


async def new_client(pool: asyncpg.Pool, telegram_id: int) -> int:
    """Insert a client row directly; these tests exercise the repositories, not the bot."""
    return int(
        await pool.fetchval("INSERT INTO clients (telegram_id, name) VALUES ($1, 'c') RETURNING id", telegram_id)
    )


async def test_migrations_are_idempotent_and_timestamps_are_timestamptz(db: asyncpg.Pool, pg_schema: str) -> None:
    async with db.acquire() as conn:
        assert await migrations.apply(conn, pg_schema, MIGRATIONS) == []
    types = {
        r["column_name"]: r["data_type"]
        for r in await db.fetch(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = $1 AND table_name = 'bookings'",
            pg_schema,
        )
    }
    assert types["starts_at"] == types["ends_at"] == "timestamp with time zone"


async def test_database_refuses_overlapping_active_bookings(db: asyncpg.Pool) -> None:
    salon = await seed_salon(db)
    client = await new_client(db, 1)
    insert = (
        "INSERT INTO bookings (client_id, master_id, service_ids, title, starts_at, ends_at, busy_from, busy_to,"
        " status) VALUES ($1, $2, '{1}', 'x', $3, $4, $3, $4, $5)"
    )
    ten, eleven, noon = (at(TUESDAY, t, MSK) for t in ("10:00", "11:00", "12:00"))
    await db.execute(insert, client, salon.anna, ten, eleven, "confirmed")
    await db.execute(insert, client, salon.anna, eleven, noon, "confirmed")  # touching is fine
    await db.execute(insert, client, salon.boris, ten, eleven, "confirmed")  # another master is fine
    await db.execute(insert, client, salon.anna, ten, noon, "cancelled")  # inactive rows do not count
    with pytest.raises(asyncpg.ExclusionViolationError):
        await db.execute(insert, client, salon.anna, ten + timedelta(minutes=30), noon, "pending")


async def hold_for(
    db: asyncpg.Pool, salon: Salon, client: int, who: int, clock: ManualClock, master: int | None = None
) -> bookings.Booking | None:
    """Try to hold Tuesday 15:00 for a haircut with Anna (or ``master``) as client ``who``."""
    settings = await settings_repo.load(db)
    services = await catalog.get_services(db, [salon.haircut])
    async with db.acquire() as conn:
        return await bookings.hold(
            conn,
            master_ids=[master or salon.anna],
            start=at(TUESDAY, "15:00", MSK),
            services=services,
            client_id=client,
            held_by=who,
            source="client",
            settings=settings,
            tz=MSK,
            now=clock(),
        )


async def test_twenty_concurrent_holds_one_winner(db: asyncpg.Pool, clock: ManualClock) -> None:
    salon = await seed_salon(db)
    clients = [await new_client(db, 100 + i) for i in range(20)]
    results = await asyncio.gather(*(hold_for(db, salon, c, 100 + i, clock) for i, c in enumerate(clients)))
    assert sum(r is not None for r in results) == 1
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE status = 'held'") == 1


async def test_expired_hold_is_taken_over_and_lost(db: asyncpg.Pool, clock: ManualClock) -> None:
    salon = await seed_salon(db)
    first, second = await new_client(db, 1), await new_client(db, 2)
    held = await hold_for(db, salon, first, 1, clock)
    assert held is not None and held.hold_expires_at == clock() + timedelta(minutes=10)
    assert await hold_for(db, salon, second, 2, clock) is None  # the hold protects the slot
    clock.advance(timedelta(minutes=11))
    taken = await hold_for(db, salon, second, 2, clock)
    assert taken is not None
    settings = await settings_repo.load(db)
    async with db.acquire() as conn, conn.transaction():
        lost = await bookings.confirm_hold(
            conn, booking_id=held.id, held_by=1, client_id=first, status="confirmed", settings=settings, now=clock()
        )
    assert lost == "hold_lost"


async def test_slow_client_keeps_an_untaken_slot(db: asyncpg.Pool, clock: ManualClock) -> None:
    salon = await seed_salon(db)
    client = await new_client(db, 1)
    held = await hold_for(db, salon, client, 1, clock)
    assert held is not None
    clock.advance(timedelta(minutes=30))
    settings = await settings_repo.load(db)
    async with db.acquire() as conn, conn.transaction():
        booking = await bookings.confirm_hold(
            conn, booking_id=held.id, held_by=1, client_id=client, status="confirmed", settings=settings, now=clock()
        )
    assert isinstance(booking, bookings.Booking) and booking.status == "confirmed"
    due = [r["due_at"] for r in await db.fetch("SELECT due_at FROM reminders ORDER BY due_at")]
    assert due == [
        booking.starts_at - timedelta(hours=24),
        booking.starts_at - timedelta(hours=2),
        booking.ends_at + timedelta(hours=2),
    ]


async def test_move_replans_reminders_and_cancel_drops_them(db: asyncpg.Pool, clock: ManualClock) -> None:
    salon = await seed_salon(db)
    client = await new_client(db, 1)
    settings = await settings_repo.load(db)
    held = await hold_for(db, salon, client, 1, clock)
    assert held is not None
    async with db.acquire() as conn:
        async with conn.transaction():
            await bookings.confirm_hold(
                conn,
                booking_id=held.id,
                held_by=1,
                client_id=client,
                status="confirmed",
                settings=settings,
                now=clock(),
            )
        # Moving by half an hour overlaps the booking's own old time: allowed, it is the same booking.
        async with conn.transaction():
            moved = await bookings.move(
                conn,
                booking_id=held.id,
                new_start=at(TUESDAY, "15:30", MSK),
                settings=settings,
                tz=MSK,
                now=clock(),
                client_id=client,
            )
        assert isinstance(moved, tuple)
        assert moved[1].starts_at == at(TUESDAY, "15:30", MSK)
        first_due = await db.fetchval("SELECT min(due_at) FROM reminders WHERE sent_at IS NULL")
        assert first_due == at(TUESDAY, "15:30", MSK) - timedelta(hours=24)
        async with conn.transaction():
            into_break = await bookings.move(
                conn,
                booking_id=held.id,
                new_start=at(TUESDAY, "13:00", MSK),
                settings=settings,
                tz=MSK,
                now=clock(),
                client_id=client,
            )
        assert into_break == "taken"
        clock.set(at(TUESDAY, "00:00", MSK))  # inside the 24-hour cut-off
        async with conn.transaction():
            late = await bookings.cancel(
                conn, booking_id=held.id, by="client", settings=settings, now=clock(), client_id=client
            )
        assert late == "cutoff"
        async with conn.transaction():
            cancelled = await bookings.cancel(conn, booking_id=held.id, by="admin", settings=settings, now=clock())
        assert isinstance(cancelled, bookings.Booking) and cancelled.status == "cancelled"
    assert await db.fetchval("SELECT count(*) FROM reminders WHERE sent_at IS NULL") == 0
