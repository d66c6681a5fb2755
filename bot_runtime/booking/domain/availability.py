"""Pure slot computation: which start times a master can take, in absolute time.

Why pure: every rule that decides whether a client may book (weekly hours,
breaks, days off, blocks, existing bookings with their buffers, slot step,
minimum notice, booking horizon) lives here without I/O, so it is unit-tested
exhaustively and the same code answers the calendar, the time list and the
final check made while holding a slot.

Times: rules are wall-clock minutes of the business's local day; results are
aware UTC datetimes. A local day is converted through ``zoneinfo`` so a day
with a daylight-saving change has 23 or 25 real hours, and slots step in real
time from the day's opening, which keeps them on the local grid.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_MINUTES = 1440


@dataclass(frozen=True, order=True)
class Interval:
    """A half-open span ``[start, end)`` of absolute time; the unit every rule is reduced to."""

    start: datetime
    end: datetime

    def overlaps(self, other: Interval) -> bool:
        """Return True when the two half-open spans share any instant."""
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        """Return True when ``other`` lies entirely inside this span."""
        return self.start <= other.start and other.end <= self.end

    @property
    def minutes(self) -> int:
        """Length in whole minutes, for load analytics."""
        return int((self.end - self.start).total_seconds() // 60)


@dataclass(frozen=True)
class Rules:
    """The business-wide booking rules the owner edits under Settings."""

    step: timedelta = timedelta(minutes=30)
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    horizon_days: int = 30
    min_notice: timedelta = timedelta(minutes=60)


@dataclass(frozen=True)
class MasterCalendar:
    """Everything that shapes one master's free time over a range of days.

    ``hours`` maps a weekday (0 = Monday) to ``(opens_min, closes_min)``;
    ``breaks`` maps a weekday to local ``(start_min, end_min)`` pairs;
    ``time_off`` holds days off and blocks (including business-wide ones) in
    absolute time; ``busy`` holds the occupied ranges (with buffers) of
    active bookings and live holds, which never overlap each other.
    """

    master_id: int
    hours: Mapping[int, tuple[int, int]]
    breaks: Mapping[int, Sequence[tuple[int, int]]] = field(default_factory=dict)
    time_off: Sequence[Interval] = ()
    busy: Sequence[Interval] = ()
    _busy_ends: tuple[datetime, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        # Busy ranges of one master never overlap (the database forbids it), so
        # sorted by start they are sorted by end too, and the overlap check is
        # a binary search.
        busy = tuple(sorted(self.busy))
        object.__setattr__(self, "busy", busy)
        object.__setattr__(self, "_busy_ends", tuple(b.end for b in busy))

    def is_busy(self, span: Interval) -> bool:
        """Return True when ``span`` overlaps an existing booking or hold."""
        index = bisect.bisect_right(self._busy_ends, span.start)
        return index < len(self.busy) and self.busy[index].start < span.end


def local_instant(day: date, minute: int, tz: ZoneInfo) -> datetime:
    """Return the UTC instant of ``minute`` past local midnight of ``day``.

    Minute 1440 is the next midnight. A wall time that does not exist (inside
    a spring-forward gap) maps, per PEP 495 with fold=0, to the instant one
    gap later, which is what a clock on the wall shows after the jump.
    """
    day = day + timedelta(days=minute // DAY_MINUTES)
    minute %= DAY_MINUTES
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz)
    return local.astimezone(UTC)


def local_today(now: datetime, tz: ZoneInfo) -> date:
    """Return the business's current local date."""
    return now.astimezone(tz).date()


def last_bookable_day(now: datetime, tz: ZoneInfo, rules: Rules) -> date:
    """Return the last local date a client may book: today plus the horizon."""
    return local_today(now, tz) + timedelta(days=rules.horizon_days)


def subtract(segments: Iterable[Interval], cut: Interval) -> list[Interval]:
    """Return ``segments`` with ``cut`` removed, splitting a segment it falls inside."""
    out: list[Interval] = []
    for seg in segments:
        if not seg.overlaps(cut):
            out.append(seg)
            continue
        if seg.start < cut.start:
            out.append(Interval(seg.start, cut.start))
        if cut.end < seg.end:
            out.append(Interval(cut.end, seg.end))
    return out


def working_segments(day: date, tz: ZoneInfo, cal: MasterCalendar) -> list[Interval]:
    """Return the spans of ``day`` in which ``cal``'s master can serve a client.

    Opening hours minus breaks minus days off and blocks. Bookings are not
    subtracted here: they are checked with their buffers per candidate start.
    """
    hours = cal.hours.get(day.weekday())
    if hours is None:
        return []
    segments = [Interval(local_instant(day, hours[0], tz), local_instant(day, hours[1], tz))]
    for start_min, end_min in cal.breaks.get(day.weekday(), ()):
        segments = subtract(segments, Interval(local_instant(day, start_min, tz), local_instant(day, end_min, tz)))
    for off in cal.time_off:
        segments = subtract(segments, off)
    return [s for s in segments if s.end > s.start]


def free_starts(
    day: date,
    tz: ZoneInfo,
    duration: timedelta,
    rules: Rules,
    cal: MasterCalendar,
    now: datetime,
    *,
    enforce_notice: bool = True,
    limit: int | None = None,
) -> list[datetime]:
    """Return the UTC start times on local ``day`` at which ``cal``'s master is free.

    A start qualifies when the visit ``[start, start + duration)`` fits in one
    working segment, the occupied range ``[start - buffer_before, start +
    duration + buffer_after)`` overlaps no booking or hold, the start is at
    least the minimum notice away and the day is within the horizon. Starts
    step from the day's opening in real time. ``enforce_notice=False`` is for
    the owner booking a walk-in: notice and horizon do not bind the owner.
    """
    today = local_today(now, tz)
    if day < today:
        return []
    if enforce_notice and day > today + timedelta(days=rules.horizon_days):
        return []
    hours = cal.hours.get(day.weekday())
    if hours is None:
        return []
    segments = working_segments(day, tz, cal)
    if not segments:
        return []
    earliest = now + rules.min_notice if enforce_notice else now
    opens = local_instant(day, hours[0], tz)
    closes = local_instant(day, hours[1], tz)
    found: list[datetime] = []
    start = opens
    while start + duration <= closes:
        if start >= earliest:
            visit = Interval(start, start + duration)
            fits = any(seg.contains(visit) for seg in segments)
            if fits and not cal.is_busy(Interval(start - rules.buffer_before, visit.end + rules.buffer_after)):
                found.append(start)
                if limit is not None and len(found) >= limit:
                    break
        start += rules.step
    return found


def slot_is_free(
    start: datetime,
    tz: ZoneInfo,
    duration: timedelta,
    rules: Rules,
    cal: MasterCalendar,
    now: datetime,
    *,
    enforce_notice: bool = True,
) -> bool:
    """Return True when ``start`` is one of the free starts of its local day.

    Used as the last check before holding a slot, so a stale button from an
    old message can never book a time the rules no longer allow.
    """
    day = start.astimezone(tz).date()
    return start in free_starts(day, tz, duration, rules, cal, now, enforce_notice=enforce_notice)


def merge_starts(per_master: Mapping[int, Sequence[datetime]]) -> dict[datetime, list[int]]:
    """Return every start offered by any master, mapped to the masters offering it.

    This is the "any master" view: the client picks a time, the bot picks
    whichever master is free then.
    """
    merged: dict[datetime, list[int]] = {}
    for master_id, starts in per_master.items():
        for start in starts:
            merged.setdefault(start, []).append(master_id)
    return dict(sorted(merged.items()))


def days_with_room(
    days: Iterable[date],
    tz: ZoneInfo,
    duration: timedelta,
    rules: Rules,
    calendars: Sequence[MasterCalendar],
    now: datetime,
    *,
    enforce_notice: bool = True,
) -> set[date]:
    """Return the days on which at least one of ``calendars`` has a free start.

    Feeds the month calendar, where each bookable day is a button.
    """
    found: set[date] = set()
    for day in days:
        for cal in calendars:
            if free_starts(day, tz, duration, rules, cal, now, enforce_notice=enforce_notice, limit=1):
                found.add(day)
                break
    return found


def working_minutes(day: date, tz: ZoneInfo, cal: MasterCalendar) -> int:
    """Return how many minutes ``cal``'s master works on ``day``; the denominator of load."""
    return sum(seg.minutes for seg in working_segments(day, tz, cal))
