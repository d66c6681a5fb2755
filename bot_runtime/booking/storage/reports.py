"""Owner reports: analytics over a period and the CSV export of bookings.

Why aggregate in SQL: a salon with a year of bookings has tens of thousands
of rows; the counts, sums and top services come back in two indexed queries
instead of loading rows into Python, so the screens stay fast on old tenants.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot_runtime.booking.domain.availability import local_instant, working_minutes
from bot_runtime.booking.storage.catalog import list_masters, load_calendars
from bot_runtime.booking.storage.types import Conn


@dataclass(frozen=True)
class Analytics:
    """Numbers on the owner's analytics screen for one period."""

    first: date
    last: date
    bookings: int
    cancelled: int
    no_shows: int
    revenue: Decimal
    expected: Decimal
    booked_minutes: int
    working_minutes: int
    rating: float | None
    ratings: int
    top_services: list[tuple[str, int]]
    new_clients: int

    @property
    def load_percent(self) -> int:
        """Booked share of working time, in percent (0 when nobody works)."""
        if self.working_minutes <= 0:
            return 0
        return round(100 * self.booked_minutes / self.working_minutes)


async def analytics(conn: Conn, first: date, last: date, tz: ZoneInfo, now: datetime) -> Analytics:
    """Compute the analytics of local days ``first..last`` inclusive."""
    start = local_instant(first, 0, tz)
    end = local_instant(last, 1440, tz)
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE status IN ('pending', 'confirmed', 'no_show')) AS bookings,"
        " count(*) FILTER (WHERE status = 'cancelled') AS cancelled,"
        " count(*) FILTER (WHERE status = 'no_show') AS no_shows,"
        " coalesce(sum(price) FILTER (WHERE status = 'confirmed' AND starts_at <= $3), 0) AS revenue,"
        " coalesce(sum(price) FILTER (WHERE status IN ('pending', 'confirmed') AND starts_at > $3), 0)"
        "   AS expected,"
        " coalesce(sum(extract(epoch FROM ends_at - starts_at) / 60)"
        "   FILTER (WHERE status IN ('pending', 'confirmed', 'no_show')), 0)::bigint AS booked_minutes,"
        " avg(rating)::float AS rating, count(rating) AS ratings"
        " FROM bookings WHERE starts_at >= $1 AND starts_at < $2",
        start,
        end,
        now,
    )
    assert row is not None
    top = await conn.fetch(
        "SELECT s.name, count(*) AS n FROM bookings b CROSS JOIN LATERAL unnest(b.service_ids) AS u(service_id)"
        " JOIN services s ON s.id = u.service_id"
        " WHERE b.starts_at >= $1 AND b.starts_at < $2 AND b.status IN ('pending', 'confirmed', 'no_show')"
        " GROUP BY s.name ORDER BY n DESC, s.name LIMIT 5",
        start,
        end,
    )
    new_clients = await conn.fetchval(
        "SELECT count(*) FROM (SELECT client_id FROM bookings WHERE status IN ('pending', 'confirmed', 'no_show')"
        " AND client_id IS NOT NULL GROUP BY client_id HAVING min(starts_at) >= $1 AND min(starts_at) < $2) f",
        start,
        end,
    )
    masters = [m.id for m in await list_masters(conn, only_active=True)]
    calendars = await load_calendars(conn, masters, start, end, now) if masters else []
    work = 0
    day = first
    while day <= last:
        work += sum(working_minutes(day, tz, cal) for cal in calendars)
        day += timedelta(days=1)
    return Analytics(
        first=first,
        last=last,
        bookings=row["bookings"],
        cancelled=row["cancelled"],
        no_shows=row["no_shows"],
        revenue=row["revenue"],
        expected=row["expected"],
        booked_minutes=int(row["booked_minutes"]),
        working_minutes=work,
        rating=row["rating"],
        ratings=row["ratings"],
        top_services=[(r["name"], r["n"]) for r in top],
        new_clients=int(new_clients),
    )


CSV_HEADER = (
    "id",
    "date",
    "start",
    "end",
    "master",
    "services",
    "client",
    "phone",
    "username",
    "status",
    "price",
    "source",
    "rating",
    "created_utc",
)


async def export_csv(conn: Conn, start: datetime, end: datetime, tz: ZoneInfo) -> tuple[bytes, int]:
    """Return a UTF-8 CSV (with BOM, so spreadsheet apps read Cyrillic) of bookings and the row count.

    Times are in the business time zone, the way the owner reads them.
    """
    rows = await conn.fetch(
        "SELECT b.id, b.starts_at, b.ends_at, m.name AS master, b.title, c.name AS client, c.phone,"
        " c.username, b.status, b.price, b.source, b.rating, b.created_at"
        " FROM bookings b JOIN masters m ON m.id = b.master_id LEFT JOIN clients c ON c.id = b.client_id"
        " WHERE b.starts_at >= $1 AND b.starts_at < $2 AND b.status <> 'held' ORDER BY b.starts_at, b.id",
        start,
        end,
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for r in rows:
        local_start = r["starts_at"].astimezone(tz)
        writer.writerow(
            (
                r["id"],
                local_start.date().isoformat(),
                local_start.strftime("%H:%M"),
                r["ends_at"].astimezone(tz).strftime("%H:%M"),
                r["master"],
                r["title"],
                _safe_cell(r["client"] or ""),
                r["phone"] or "",
                r["username"] or "",
                r["status"],
                r["price"],
                r["source"],
                r["rating"] or "",
                r["created_at"].astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M"),
            )
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8"), len(rows)


def _safe_cell(value: str) -> str:
    """Neutralise spreadsheet formulas in client-typed names (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
