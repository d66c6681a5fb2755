"""Where there is room: the calendars and time grids of the booking flow, and which master gets a visit.

Why in the service: every answer combines the catalogue, the bookings and
the rules of one moment (the clock), and the hold re-asks the same
questions inside its transaction, so screens and use cases share them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot_runtime.booking.domain.availability import (
    Interval,
    days_with_room,
    free_starts,
    local_instant,
    merge_starts,
)
from bot_runtime.booking.domain.parsing import BlockInput
from bot_runtime.booking.service.base import ServiceBase
from bot_runtime.booking.storage import catalog
from bot_runtime.booking.storage.catalog import Service
from bot_runtime.booking.storage.settings import Settings


@dataclass(frozen=True)
class Visit:
    """What is being booked: services, their total duration, and candidate masters."""

    services: list[Service]
    duration: timedelta
    master_ids: list[int]


class Availability(ServiceBase):
    """Availability questions, bound to the tenant."""

    async def visit(self, service_ids: Sequence[int], master: int) -> Visit | None:
        """Resolve a selection (``master`` 0 = any) into services, duration and masters; None if impossible."""
        services, masters = await catalog.services_and_masters(self.pool, service_ids)
        if not services or len(services) != len(service_ids):
            return None
        if master:
            masters = [m for m in masters if m == master]
        if not masters:
            return None
        return Visit(services, timedelta(minutes=sum(s.duration_min for s in services)), masters)

    def month_window(self, settings: Settings, *, admin: bool) -> tuple[date, date]:
        """Return the first and last local day a calendar may offer."""
        today = self.today()
        last = today + timedelta(days=settings.horizon_days if not admin else max(settings.horizon_days, 90))
        return today, last

    async def room_in_month(
        self,
        master_ids: Sequence[int],
        duration: timedelta,
        year: int,
        month: int,
        settings: Settings,
        *,
        admin: bool = False,
        ignore_booking: int | None = None,
    ) -> set[date]:
        """Return the days of a month on which any of ``master_ids`` has room for ``duration``."""
        first_allowed, last_allowed = self.month_window(settings, admin=admin)
        first = max(date(year, month, 1), first_allowed)
        last = min((date(year, month, 28) + timedelta(days=4)).replace(day=1) - timedelta(days=1), last_allowed)
        if first > last:
            return set()
        now = self.now()
        calendars = await catalog.load_calendars(
            self.pool,
            master_ids,
            local_instant(first, 0, self.tz) - timedelta(days=1),
            local_instant(last, 1440, self.tz) + timedelta(days=1),
            now,
            ignore_booking=ignore_booking,
        )
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        return days_with_room(days, self.tz, duration, settings.rules(), calendars, now, enforce_notice=not admin)

    async def starts_on(
        self,
        master_ids: Sequence[int],
        duration: timedelta,
        day: date,
        settings: Settings,
        *,
        admin: bool = False,
        ignore_booking: int | None = None,
    ) -> dict[datetime, list[int]]:
        """Return the free starts of a local day, each with the masters free then."""
        now = self.now()
        calendars = await catalog.load_calendars(
            self.pool,
            master_ids,
            local_instant(day, 0, self.tz) - timedelta(days=1),
            local_instant(day, 1440, self.tz) + timedelta(days=1),
            now,
            ignore_booking=ignore_booking,
        )
        rules = settings.rules()
        per_master = {
            cal.master_id: free_starts(day, self.tz, duration, rules, cal, now, enforce_notice=not admin)
            for cal in calendars
        }
        return merge_starts(per_master)

    async def busiest_last(self, master_ids: Sequence[int], day: date) -> list[int]:
        """Order masters for "any master": the one with the fewest bookings that day goes first."""
        if len(master_ids) < 2:
            return list(master_ids)
        rows = await self.pool.fetch(
            "SELECT master_id, count(*) AS n FROM bookings WHERE master_id = ANY($1::int[])"
            " AND status IN ('held', 'pending', 'confirmed') AND starts_at >= $2 AND starts_at < $3"
            " GROUP BY master_id",
            list(master_ids),
            local_instant(day, 0, self.tz),
            local_instant(day, 1440, self.tz),
        )
        load = {r["master_id"]: r["n"] for r in rows}
        return sorted(master_ids, key=lambda m: (load.get(m, 0), m))

    def block_spans(self, block: BlockInput) -> list[Interval]:
        """Turn a typed block into absolute spans: whole days merge into one span."""
        spans: list[Interval] = []
        day = block.first
        while day <= block.last:
            if block.minutes is None:
                span = Interval(local_instant(day, 0, self.tz), local_instant(day, 1440, self.tz))
            else:
                span = Interval(
                    local_instant(day, block.minutes[0], self.tz), local_instant(day, block.minutes[1], self.tz)
                )
            if spans and spans[-1].end == span.start:
                spans[-1] = Interval(spans[-1].start, span.end)
            else:
                spans.append(span)
            day += timedelta(days=1)
        return spans
