"""What the owner types is understood, in Russian and English, and nonsense is refused with a hint."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot_runtime.booking.domain.parsing import (
    BlockInput,
    ParseError,
    parse_block,
    parse_client,
    parse_date,
    parse_minutes,
    parse_offsets,
    parse_service,
    parse_telegram_id,
    parse_weekly,
)

TODAY = date(2025, 3, 10)


def test_weekly_hours_in_both_languages() -> None:
    week = parse_weekly("Mon-Fri 10:00-19:00\nSat 11-16; Sun off")
    assert week[0] == [(600, 1140)] and week[4] == [(600, 1140)]
    assert week[5] == [(660, 960)]
    assert week[6] == []
    assert parse_weekly("Пн, Ср 9:30 - 18:00") == {0: [(570, 1080)], 2: [(570, 1080)]}
    assert parse_weekly("ежедневно 10-14 15-20")[3] == [(600, 840), (900, 1200)]
    assert parse_weekly("Fri-Mon 12-13") == {4: [(720, 780)], 5: [(720, 780)], 6: [(720, 780)], 0: [(720, 780)]}


@pytest.mark.parametrize("text", ["", "Mon", "Funday 10-19", "Mon 19-10", "Mon 10-14 13-15", "Mon 25:00-26:00"])
def test_weekly_nonsense_is_refused(text: str) -> None:
    with pytest.raises(ParseError):
        parse_weekly(text)


def test_dates_without_year_mean_the_next_one() -> None:
    assert parse_date("15.03", TODAY) == date(2025, 3, 15)
    assert parse_date("01.02", TODAY) == date(2026, 2, 1)
    assert parse_date("2025-12-31", TODAY) == date(2025, 12, 31)
    assert parse_date("завтра", TODAY) == date(2025, 3, 11)
    assert parse_date("29.02", TODAY) == date(2028, 2, 29)
    with pytest.raises(ParseError):
        parse_date("31.02.2025", TODAY)


def test_blocks() -> None:
    assert parse_block("15.03", TODAY) == BlockInput(date(2025, 3, 15), date(2025, 3, 15), None)
    assert parse_block("15.03-17.03", TODAY) == BlockInput(date(2025, 3, 15), date(2025, 3, 17), None)
    assert parse_block("15.03 14:00-16:00", TODAY) == BlockInput(date(2025, 3, 15), date(2025, 3, 15), (840, 960))
    with pytest.raises(ParseError):
        parse_block("17.03-15.03.2025", TODAY)


def test_durations_offsets_and_services() -> None:
    assert parse_minutes("90") == 90
    assert parse_minutes("1:30") == 90
    assert parse_minutes("2ч") == 120
    assert parse_minutes("1h30m") == 90
    assert parse_minutes("1d") == 1440
    assert parse_offsets("24h, 2h") == [1440, 120]
    assert parse_offsets("off") == []
    service = parse_service("Стрижка; 60; 1500-2500; Волосы")
    assert (service.name, service.duration_min, service.price, service.price_max, service.category) == (
        "Стрижка",
        60,
        Decimal(1500),
        Decimal(2500),
        "Волосы",
    )
    assert parse_service("Beard | 30 | 700").category is None
    with pytest.raises(ParseError):
        parse_service("Haircut; forever; 10")


def test_clients_and_ids() -> None:
    assert parse_client("Anna +7 (999) 123-45-67") == ("Anna", "+79991234567")
    assert parse_client("Борис") == ("Борис", None)
    assert parse_telegram_id(" 123456789 ") == 123456789
    with pytest.raises(ParseError):
        parse_telegram_id("@someone")
