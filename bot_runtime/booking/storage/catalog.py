"""Services, masters, their weekly hours, breaks and time off.

Why one module: these are the inputs of availability, and ``load_calendars``
turns them (plus the busy ranges of bookings) into the pure
``MasterCalendar`` objects the domain computes on, in four indexed queries
whatever the number of masters or days, so screens never run N+1 queries.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from bot_runtime.booking.domain.availability import Interval, MasterCalendar
from bot_runtime.booking.storage.types import Conn, Tx

ACTIVE_STATUSES = ("held", "pending", "confirmed")


@dataclass(frozen=True)
class Service:
    """A service on the menu; price_max set means a price range ("from ... to ...")."""

    id: int
    name: str
    category: str | None
    duration_min: int
    price: Decimal
    price_max: Decimal | None
    active: bool


@dataclass(frozen=True)
class Master:
    """A master (staff member) clients can choose."""

    id: int
    name: str
    active: bool
    telegram_id: int | None = None


SERVICE_COLUMNS = "id, name, category, duration_min, price, price_max, active"


def _service(row: asyncpg.Record) -> Service:
    return Service(
        row["id"], row["name"], row["category"], row["duration_min"], row["price"], row["price_max"], row["active"]
    )


async def list_services(conn: Conn, *, only_active: bool = False) -> list[Service]:
    """Return services ordered by category then name, the order the menu shows."""
    where = "WHERE active" if only_active else ""
    rows = await conn.fetch(f"SELECT {SERVICE_COLUMNS} FROM services {where} ORDER BY coalesce(category, ''), name, id")
    return [_service(r) for r in rows]


async def bookable_services(conn: Conn) -> list[Service]:
    """Return active services that at least one active master performs: what a client can book."""
    rows = await conn.fetch(
        f"SELECT {SERVICE_COLUMNS} FROM services s WHERE active AND EXISTS ("
        " SELECT 1 FROM master_services ms JOIN masters m ON m.id = ms.master_id"
        " WHERE ms.service_id = s.id AND m.active)"
        " ORDER BY coalesce(category, ''), name, id"
    )
    return [_service(r) for r in rows]


async def get_services(conn: Conn, ids: Sequence[int]) -> list[Service]:
    """Return the services with ``ids`` in the given order (missing ones are skipped)."""
    rows = await conn.fetch(f"SELECT {SERVICE_COLUMNS} FROM services WHERE id = ANY($1::int[])", list(ids))
    by_id = {r["id"]: _service(r) for r in rows}
    return [by_id[i] for i in ids if i in by_id]


async def services_and_masters(conn: Conn, ids: Sequence[int]) -> tuple[list[Service], list[int]]:
    """Return the services with ``ids`` (in that order) and the active masters doing all of them, in one query."""
    rows = await conn.fetch(
        f"SELECT {SERVICE_COLUMNS}, (SELECT coalesce(array_agg(m.id ORDER BY m.name, m.id), '{{}}')"
        " FROM masters m WHERE m.active AND (SELECT count(*) FROM master_services ms"
        " WHERE ms.master_id = m.id AND ms.service_id = ANY($1::int[])) = cardinality($1::int[])) AS mids"
        " FROM services WHERE id = ANY($1::int[])",
        sorted(set(ids)),
    )
    by_id = {r["id"]: _service(r) for r in rows}
    masters = list(rows[0]["mids"]) if rows else []
    return [by_id[i] for i in ids if i in by_id], masters


async def add_service(
    conn: Conn, name: str, duration_min: int, price: Decimal, price_max: Decimal | None, category: str | None
) -> int:
    """Create a service and return its id."""
    value = await conn.fetchval(
        "INSERT INTO services (name, duration_min, price, price_max, category) VALUES ($1, $2, $3, $4, $5)"
        " RETURNING id",
        name,
        duration_min,
        price,
        price_max,
        category,
    )
    return int(value)


async def update_service(conn: Conn, service_id: int, **fields: object) -> bool:
    """Change some fields of a service; returns False when it does not exist."""
    allowed = {"name", "duration_min", "price", "price_max", "category", "active"}
    assert fields
    assert set(fields) <= allowed
    names = list(fields)
    assignments = ", ".join(f"{name} = ${i + 2}" for i, name in enumerate(names))
    status = await conn.execute(
        f"UPDATE services SET {assignments} WHERE id = $1", service_id, *[fields[n] for n in names]
    )
    return status.endswith(" 1")


async def list_masters(conn: Conn, *, only_active: bool = False) -> list[Master]:
    """Return masters by name."""
    where = "WHERE active" if only_active else ""
    rows = await conn.fetch(f"SELECT id, name, active, telegram_id FROM masters {where} ORDER BY name, id")
    return [Master(r["id"], r["name"], r["active"], r["telegram_id"]) for r in rows]


async def get_master(conn: Conn, master_id: int) -> Master | None:
    """Return one master, or None."""
    row = await conn.fetchrow("SELECT id, name, active, telegram_id FROM masters WHERE id = $1", master_id)
    return Master(row["id"], row["name"], row["active"], row["telegram_id"]) if row else None


async def add_master(conn: Conn, name: str) -> int:
    """Create a master (without hours: the owner sets them next) and return the id."""
    return int(await conn.fetchval("INSERT INTO masters (name) VALUES ($1) RETURNING id", name))


async def update_master(conn: Conn, master_id: int, *, name: str | None = None, active: bool | None = None) -> None:
    """Rename or (de)activate a master."""
    if name is not None:
        await conn.execute("UPDATE masters SET name = $2 WHERE id = $1", master_id, name)
    if active is not None:
        await conn.execute("UPDATE masters SET active = $2 WHERE id = $1", master_id, active)


async def masters_for(conn: Conn, service_ids: Sequence[int]) -> list[Master]:
    """Return active masters who perform every one of ``service_ids`` (a multi-service visit)."""
    rows = await conn.fetch(
        "SELECT m.id, m.name, m.active, m.telegram_id FROM masters m WHERE m.active AND ("
        " SELECT count(*) FROM master_services ms WHERE ms.master_id = m.id AND ms.service_id = ANY($1::int[])"
        ") = cardinality($1::int[]) ORDER BY m.name, m.id",
        sorted(set(service_ids)),
    )
    return [Master(r["id"], r["name"], r["active"], r["telegram_id"]) for r in rows]


async def master_service_ids(conn: Conn, master_id: int) -> set[int]:
    """Return the ids of services a master performs."""
    rows = await conn.fetch("SELECT service_id FROM master_services WHERE master_id = $1", master_id)
    return {r["service_id"] for r in rows}


async def toggle_master_service(conn: Conn, master_id: int, service_id: int) -> bool:
    """Link or unlink a service and a master; returns True when now linked."""
    deleted = await conn.execute(
        "DELETE FROM master_services WHERE master_id = $1 AND service_id = $2", master_id, service_id
    )
    if deleted.endswith(" 1"):
        return False
    await conn.execute(
        "INSERT INTO master_services (master_id, service_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        master_id,
        service_id,
    )
    return True


async def set_hours(conn: Tx, master_id: int, week: dict[int, list[tuple[int, int]]]) -> None:
    """Replace the given weekdays' hours; an empty list makes the day a weekly day off."""
    async with conn.transaction():
        for weekday, ranges in week.items():
            await conn.execute("DELETE FROM working_hours WHERE master_id = $1 AND weekday = $2", master_id, weekday)
            if ranges:
                opens, closes = ranges[0][0], ranges[-1][1]
                await conn.execute(
                    "INSERT INTO working_hours (master_id, weekday, opens_min, closes_min) VALUES ($1, $2, $3, $4)",
                    master_id,
                    weekday,
                    opens,
                    closes,
                )
                # Gaps between several typed ranges ("10-14 15-19") become breaks.
                await conn.execute("DELETE FROM breaks WHERE master_id = $1 AND weekday = $2", master_id, weekday)
                for (_, gap_start), (gap_end, _) in itertools.pairwise(ranges):
                    if gap_end > gap_start:
                        await conn.execute(
                            "INSERT INTO breaks (master_id, weekday, start_min, end_min) VALUES ($1, $2, $3, $4)",
                            master_id,
                            weekday,
                            gap_start,
                            gap_end,
                        )


async def set_breaks(conn: Tx, master_id: int, week: dict[int, list[tuple[int, int]]]) -> None:
    """Replace the given weekdays' breaks; an empty list removes that day's breaks."""
    async with conn.transaction():
        for weekday, ranges in week.items():
            await conn.execute("DELETE FROM breaks WHERE master_id = $1 AND weekday = $2", master_id, weekday)
            for start, end in ranges:
                await conn.execute(
                    "INSERT INTO breaks (master_id, weekday, start_min, end_min) VALUES ($1, $2, $3, $4)",
                    master_id,
                    weekday,
                    start,
                    end,
                )


@dataclass(frozen=True)
class WeekRules:
    """One master's weekly hours and breaks, for display and for calendars."""

    hours: dict[int, tuple[int, int]]
    breaks: dict[int, list[tuple[int, int]]]


async def week_rules(conn: Conn, master_ids: Sequence[int]) -> dict[int, WeekRules]:
    """Return weekly hours and breaks for several masters in two queries."""
    result = {m: WeekRules({}, {}) for m in master_ids}
    for row in await conn.fetch(
        "SELECT master_id, weekday, opens_min, closes_min FROM working_hours WHERE master_id = ANY($1::int[])",
        list(master_ids),
    ):
        result[row["master_id"]].hours[row["weekday"]] = (row["opens_min"], row["closes_min"])
    for row in await conn.fetch(
        "SELECT master_id, weekday, start_min, end_min FROM breaks WHERE master_id = ANY($1::int[]) ORDER BY start_min",
        list(master_ids),
    ):
        result[row["master_id"]].breaks.setdefault(row["weekday"], []).append((row["start_min"], row["end_min"]))
    return result


@dataclass(frozen=True)
class TimeOff:
    """A day off or a block; master_id None means the whole business."""

    id: int
    master_id: int | None
    starts_at: datetime
    ends_at: datetime
    kind: str


async def add_time_off(
    conn: Conn, master_id: int | None, spans: Iterable[Interval], kind: str, created_by: int | None
) -> list[int]:
    """Record days off or blocks and return their ids."""
    ids = []
    for span in spans:
        ids.append(
            int(
                await conn.fetchval(
                    "INSERT INTO time_off (master_id, starts_at, ends_at, kind, created_by)"
                    " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                    master_id,
                    span.start,
                    span.end,
                    kind,
                    created_by,
                )
            )
        )
    return ids


async def upcoming_time_off(conn: Conn, now: datetime, master_id: int | None = None, limit: int = 20) -> list[TimeOff]:
    """Return time off that has not ended yet, for one master or (None) all, soonest first."""
    rows = await conn.fetch(
        "SELECT id, master_id, starts_at, ends_at, kind FROM time_off WHERE ends_at > $1"
        " AND ($2::int IS NULL OR master_id = $2) ORDER BY starts_at LIMIT $3",
        now,
        master_id,
        limit,
    )
    return [TimeOff(r["id"], r["master_id"], r["starts_at"], r["ends_at"], r["kind"]) for r in rows]


async def delete_time_off(conn: Conn, time_off_id: int) -> bool:
    """Remove a day off or block (cancelled bookings stay cancelled)."""
    return (await conn.execute("DELETE FROM time_off WHERE id = $1", time_off_id)).endswith(" 1")


#: Everything a calendar needs, in one round trip: weekly hours (h), breaks (b), time off (o), busy (x).
_CALENDAR_SQL = """
SELECT 'h' AS kind, master_id, weekday, opens_min::int AS a, closes_min::int AS b,
       NULL::timestamptz AS s, NULL::timestamptz AS e
FROM working_hours WHERE master_id = ANY($1::int[])
UNION ALL
SELECT * FROM (
    SELECT 'b', master_id, weekday, start_min::int, end_min::int, NULL::timestamptz, NULL::timestamptz
    FROM breaks WHERE master_id = ANY($1::int[]) ORDER BY start_min
) ordered_breaks
UNION ALL
SELECT 'o', master_id, NULL, NULL, NULL, starts_at, ends_at
FROM time_off WHERE ends_at > $2 AND starts_at < $3 AND (master_id IS NULL OR master_id = ANY($1::int[]))
UNION ALL
SELECT 'x', master_id, NULL, NULL, NULL, busy_from, busy_to
FROM bookings
WHERE master_id = ANY($1::int[]) AND status IN ('held', 'pending', 'confirmed')
  AND tstzrange(busy_from, busy_to) && tstzrange($2, $3)
  AND NOT (status = 'held' AND hold_expires_at <= $4)
  AND id IS DISTINCT FROM $5::bigint
"""


async def load_calendars(
    conn: Conn,
    master_ids: Sequence[int],
    start: datetime,
    end: datetime,
    now: datetime,
    *,
    ignore_booking: int | None = None,
) -> list[MasterCalendar]:
    """Return the calendars of ``master_ids`` covering ``[start, end)``.

    Busy ranges are active bookings and live holds (expired holds are
    ignored); ``ignore_booking`` leaves out the booking being moved so it does
    not collide with itself.
    """
    ids = list(master_ids)
    rows = await conn.fetch(_CALENDAR_SQL, ids, start, end, now, ignore_booking)
    hours: dict[int, dict[int, tuple[int, int]]] = {m: {} for m in ids}
    breaks: dict[int, dict[int, list[tuple[int, int]]]] = {m: {} for m in ids}
    offs: dict[int, list[Interval]] = {m: [] for m in ids}
    busy: dict[int, list[Interval]] = {m: [] for m in ids}
    for r in rows:
        kind, master_id = r["kind"], r["master_id"]
        if kind == "h":
            hours[master_id][r["weekday"]] = (r["a"], r["b"])
        elif kind == "b":
            breaks[master_id].setdefault(r["weekday"], []).append((r["a"], r["b"]))
        elif kind == "o":
            for target in ids if master_id is None else [master_id]:
                offs[target].append(Interval(r["s"], r["e"]))
        else:
            busy[master_id].append(Interval(r["s"], r["e"]))
    calendars = [MasterCalendar(m, hours[m], breaks[m], tuple(offs[m]), tuple(busy[m])) for m in ids]
    return calendars
