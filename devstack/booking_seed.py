"""Booking data for tests and benchmarks: a small salon, and a year of bookings for the load runs.

Lives in devstack (not tests/) because the booking benchmark seeds the same
salon as the tests do, and nothing outside tests may import ``tests``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import asyncpg

from bot_runtime.booking.domain.availability import local_instant
from bot_runtime.booking.storage import catalog


@dataclass(frozen=True)
class Salon:
    """Ids of the seeded salon: three services, two masters."""

    haircut: int
    beard: int
    coloring: int
    anna: int
    boris: int


async def seed_salon(pool: asyncpg.Pool, *, weekend: bool = False) -> Salon:
    """Create services and masters: Anna (all, break 13-14) and Boris (haircut, beard), Mon-Sat 10-19."""
    haircut = await catalog.add_service(pool, "Haircut", 60, Decimal(1500), None, "Hair")
    beard = await catalog.add_service(pool, "Beard", 30, Decimal(700), None, "Hair")
    coloring = await catalog.add_service(pool, "Coloring", 120, Decimal(3000), Decimal(5000), "Color")
    anna = await catalog.add_master(pool, "Anna")
    boris = await catalog.add_master(pool, "Boris")
    for service in (haircut, beard, coloring):
        await catalog.toggle_master_service(pool, anna, service)
    for service in (haircut, beard):
        await catalog.toggle_master_service(pool, boris, service)
    days = range(7) if weekend else range(6)
    async with pool.acquire() as conn:
        for master in (anna, boris):
            await catalog.set_hours(conn, master, {d: [(600, 1140)] for d in days})
        await catalog.set_breaks(conn, anna, {d: [(780, 840)] for d in days})
    return Salon(haircut, beard, coloring, anna, boris)


async def seed_year(
    pool: asyncpg.Pool, salon: Salon, *, until: date, tz: ZoneInfo, days: int = 365, clients: int = 600
) -> int:
    """Insert a year of past bookings (and a week of future ones) for both masters; return the count.

    Each working day each master has visits at 10, 11, 12, 14, 15, 16, 17 local time; about one in
    twelve is cancelled and one in thirty a no-show, so the owner's reports have something to count.
    """
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO clients (telegram_id, name, username, phone)"
            " SELECT 900000000 + g, 'Client ' || g, 'client' || g, '+7999' || lpad(g::text, 7, '0')"
            " FROM generate_series(1, $1) g",
            clients,
        )
        client_ids = [r["id"] for r in await conn.fetch("SELECT id FROM clients ORDER BY id")]
        rows: list[tuple[object, ...]] = []
        first = until - timedelta(days=days)
        n = 0
        day = first
        while day <= until + timedelta(days=7):
            if day.weekday() < 6:
                for master, service, title, minutes, price in (
                    (salon.anna, salon.haircut, "Haircut", 60, Decimal(1500)),
                    (salon.boris, salon.beard, "Beard", 30, Decimal(700)),
                ):
                    for hour in (10, 11, 12, 14, 15, 16, 17):
                        start = local_instant(day, hour * 60, tz)
                        end = start + timedelta(minutes=minutes)
                        n += 1
                        status = "cancelled" if n % 12 == 0 else "no_show" if n % 30 == 0 else "confirmed"
                        if day > until and status == "no_show":
                            status = "confirmed"
                        rows.append(
                            (
                                client_ids[n % len(client_ids)],
                                master,
                                [service],
                                title,
                                start,
                                end,
                                start,
                                end,
                                status,
                                price,
                                (n % 5) + 1 if status == "confirmed" and n % 3 == 0 and day <= until else None,
                                start - timedelta(days=3),
                            )
                        )
            day += timedelta(days=1)
        await conn.copy_records_to_table(
            "bookings",
            records=rows,
            columns=[
                "client_id",
                "master_id",
                "service_ids",
                "title",
                "starts_at",
                "ends_at",
                "busy_from",
                "busy_to",
                "status",
                "price",
                "rating",
                "created_at",
            ],
        )
        await conn.execute("ANALYZE bookings")
        await conn.execute("ANALYZE clients")
    return len(rows)
