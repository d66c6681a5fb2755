"""Availability rules on their own: hours, breaks, buffers, days off, horizon, notice, time zones, DST."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot_runtime.booking.domain.availability import (
    Interval,
    MasterCalendar,
    Rules,
    days_with_room,
    free_starts,
    local_instant,
    merge_starts,
    slot_is_free,
    working_minutes,
)

MSK = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)
MONDAY = date(2025, 3, 10)
EARLY = datetime(2025, 3, 1, tzinfo=UTC)  # well before every day tested, so notice never binds


def weekdays(opens: int, closes: int) -> dict[int, tuple[int, int]]:
    """Monday-to-Friday hours, the usual salon week in these tests."""
    return {d: (opens, closes) for d in range(5)}


def local(day: date, hhmm: str, tz: ZoneInfo = MSK) -> datetime:
    """The UTC instant of a wall time, so expectations read like the salon's clock."""
    hours, minutes = map(int, hhmm.split(":"))
    return local_instant(day, hours * 60 + minutes, tz)


def labels(starts: list[datetime], tz: ZoneInfo = MSK) -> list[str]:
    """Starts as the client sees them on the buttons."""
    return [s.astimezone(tz).strftime("%H:%M") for s in starts]


def test_hours_bound_the_first_and_last_start() -> None:
    cal = MasterCalendar(1, weekdays(600, 1140))
    starts = free_starts(MONDAY, MSK, HOUR, Rules(), cal, EARLY)
    assert labels(starts)[0] == "10:00"
    assert labels(starts)[-1] == "18:00"  # an hour's visit must end by 19:00
    assert len(starts) == 17


def test_weekend_without_hours_has_no_slots() -> None:
    cal = MasterCalendar(1, weekdays(600, 1140))
    assert free_starts(MONDAY + timedelta(days=5), MSK, HOUR, Rules(), cal, EARLY) == []


def test_break_removes_every_start_whose_visit_touches_it() -> None:
    cal = MasterCalendar(1, weekdays(600, 1140), breaks={0: [(780, 840)]})
    shown = labels(free_starts(MONDAY, MSK, HOUR, Rules(), cal, EARLY))
    assert "12:00" in shown and "14:00" in shown
    assert not {"12:30", "13:00", "13:30"} & set(shown)


def test_buffers_keep_a_gap_around_existing_bookings() -> None:
    rules = Rules(buffer_before=timedelta(minutes=10), buffer_after=timedelta(minutes=10))
    existing = Interval(local(MONDAY, "11:00") - timedelta(minutes=10), local(MONDAY, "12:00") + timedelta(minutes=10))
    cal = MasterCalendar(1, weekdays(600, 1140), busy=[existing])
    shown = labels(free_starts(MONDAY, MSK, HOUR, rules, cal, EARLY))
    assert "10:00" not in shown  # its after-buffer would touch the booking's before-buffer
    assert "12:00" not in shown
    assert "12:30" in shown
    without = labels(
        free_starts(
            MONDAY,
            MSK,
            HOUR,
            Rules(),
            MasterCalendar(1, weekdays(600, 1140), busy=[Interval(local(MONDAY, "11:00"), local(MONDAY, "12:00"))]),
            EARLY,
        )
    )
    assert "10:00" in without and "12:00" in without


def test_day_off_and_block_remove_time() -> None:
    day_off = Interval(local(MONDAY, "00:00"), local(MONDAY, "24:00"))
    assert (
        free_starts(MONDAY, MSK, HOUR, Rules(), MasterCalendar(1, weekdays(600, 1140), time_off=[day_off]), EARLY) == []
    )
    block = Interval(local(MONDAY, "14:00"), local(MONDAY, "16:00"))
    shown = labels(
        free_starts(MONDAY, MSK, HOUR, Rules(), MasterCalendar(1, weekdays(600, 1140), time_off=[block]), EARLY)
    )
    assert "13:00" in shown and "16:00" in shown
    assert not {"13:30", "14:00", "15:00", "15:30"} & set(shown)


def test_horizon_is_today_plus_horizon_days() -> None:
    now = local(MONDAY, "12:00")
    cal = MasterCalendar(1, {d: (600, 1140) for d in range(7)})
    rules = Rules(horizon_days=7)
    assert free_starts(MONDAY + timedelta(days=7), MSK, HOUR, rules, cal, now)
    assert free_starts(MONDAY + timedelta(days=8), MSK, HOUR, rules, cal, now) == []
    # The owner booking a client is not bound by the horizon.
    assert free_starts(MONDAY + timedelta(days=8), MSK, HOUR, rules, cal, now, enforce_notice=False)


def test_minimum_notice_and_past() -> None:
    now = local(MONDAY, "10:20")
    cal = MasterCalendar(1, weekdays(600, 1140))
    shown = labels(free_starts(MONDAY, MSK, HOUR, Rules(min_notice=HOUR), cal, now))
    assert shown[0] == "11:30"
    assert free_starts(MONDAY - timedelta(days=1), MSK, HOUR, Rules(), cal, now) == []
    walk_in = labels(free_starts(MONDAY, MSK, HOUR, Rules(min_notice=HOUR), cal, now, enforce_notice=False))
    assert walk_in[0] == "10:30"


def test_slot_step_and_off_grid_starts() -> None:
    cal = MasterCalendar(1, weekdays(600, 1140))
    starts = free_starts(MONDAY, MSK, HOUR, Rules(step=timedelta(minutes=15)), cal, EARLY)
    assert labels(starts)[:3] == ["10:00", "10:15", "10:30"]
    assert not slot_is_free(local(MONDAY, "10:10"), MSK, HOUR, Rules(), cal, EARLY)
    assert slot_is_free(local(MONDAY, "10:30"), MSK, HOUR, Rules(), cal, EARLY)


def test_many_bookings_are_checked_exactly() -> None:
    busy = [Interval(local(MONDAY, f"{h}:00"), local(MONDAY, f"{h}:30")) for h in range(10, 19, 2)]
    cal = MasterCalendar(1, weekdays(600, 1140), busy=busy)
    shown = labels(free_starts(MONDAY, MSK, timedelta(minutes=30), Rules(), cal, EARLY))
    expected = [f"{h}:{m}" for h in range(10, 19) for m in ("00", "30") if not (h % 2 == 0 and m == "00")]
    assert shown == expected


def test_spring_forward_day_has_23_hours_of_slots() -> None:
    sunday = date(2025, 3, 30)  # Europe/Berlin jumps 02:00 -> 03:00
    cal = MasterCalendar(1, {6: (0, 1440)})
    starts = free_starts(sunday, BERLIN, HOUR, Rules(step=HOUR), cal, EARLY)
    assert len(starts) == 23
    shown = labels(starts, BERLIN)
    assert "02:00" not in shown and "03:00" in shown
    assert all(b - a == HOUR for a, b in itertools.pairwise(starts))


def test_fall_back_day_has_25_hours_of_slots() -> None:
    sunday = date(2025, 10, 26)  # Europe/Berlin repeats 02:00-03:00
    cal = MasterCalendar(1, {6: (0, 1440)})
    starts = free_starts(sunday, BERLIN, HOUR, Rules(step=HOUR), cal, datetime(2025, 10, 20, tzinfo=UTC))
    assert len(starts) == 25
    assert labels(starts, BERLIN).count("02:00") == 2


def test_same_local_hours_move_in_utc_across_dst() -> None:
    cal = MasterCalendar(1, weekdays(540, 1080))
    before = free_starts(date(2025, 3, 28), BERLIN, HOUR, Rules(), cal, EARLY)
    after = free_starts(date(2025, 3, 31), BERLIN, HOUR, Rules(), cal, EARLY)
    assert before[0].hour == 8 and after[0].hour == 7  # both are 09:00 on the wall
    assert labels(before, BERLIN)[0] == labels(after, BERLIN)[0] == "09:00"
    assert working_minutes(date(2025, 3, 31), BERLIN, cal) == 9 * 60


def test_local_day_not_utc_day_decides() -> None:
    # 20:00-23:00 in New York is 00:00-03:00 UTC of the next day (EDT in June).
    cal = MasterCalendar(1, {0: (1200, 1380)})
    monday = date(2025, 6, 2)
    starts = free_starts(monday, NEW_YORK, HOUR, Rules(), cal, datetime(2025, 6, 1, tzinfo=UTC))
    assert labels(starts, NEW_YORK) == ["20:00", "20:30", "21:00", "21:30", "22:00"]
    assert starts[0] == datetime(2025, 6, 3, 0, 0, tzinfo=UTC)


def test_any_master_merges_and_calendar_marks_days() -> None:
    busy_all_day = Interval(local(MONDAY, "10:00"), local(MONDAY, "19:00"))
    anna = MasterCalendar(1, weekdays(600, 1140), busy=[busy_all_day])
    boris = MasterCalendar(2, weekdays(600, 840))
    merged = merge_starts({c.master_id: free_starts(MONDAY, MSK, HOUR, Rules(), c, EARLY) for c in (anna, boris)})
    assert labels(list(merged)) == ["10:00", "10:30", "11:00", "11:30", "12:00", "12:30", "13:00"]
    assert all(masters == [2] for masters in merged.values())
    week = [MONDAY + timedelta(days=i) for i in range(7)]
    room = days_with_room(week, MSK, HOUR, Rules(), [anna], EARLY)
    assert room == {MONDAY + timedelta(days=i) for i in range(1, 5)}
