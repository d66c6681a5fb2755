"""Parsers for what the owner types: hours, dates, durations, services, phones.

Why free text: the owner administers everything from Telegram on a phone, and
"Mon-Fri 10:00-19:00" is faster to type than twenty button presses. Each
parser accepts Russian and English words, rejects anything ambiguous with a
``ParseError`` naming the text key of a hint, and never guesses silently.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

MAX_INPUT = 1000

_WEEKDAYS: dict[str, int] = {}
for _index, _names in enumerate(
    (
        ("mon", "monday", "пн", "пон", "понедельник"),
        ("tue", "tuesday", "вт", "вто", "вторник"),
        ("wed", "wednesday", "ср", "сре", "среда"),
        ("thu", "thursday", "чт", "чет", "четверг"),
        ("fri", "friday", "пт", "пят", "пятница"),
        ("sat", "saturday", "сб", "суб", "суббота"),
        ("sun", "sunday", "вс", "вос", "воскресенье"),
    )
):
    for _name in _names:
        _WEEKDAYS[_name] = _index

_EVERY_DAY = {"daily", "everyday", "all", "ежедневно", "все", "каждый"}
_OFF = {"off", "closed", "-", "выходной", "нет", "закрыто"}
_TIME = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?$")
_RANGE = re.compile(r"^(\d{1,2}(?:[:.]\d{2})?)\s*[-–—]\s*(\d{1,2}(?:[:.]\d{2})?)$")
_PHONE = re.compile(r"\+?\d[\d\s\-()]{5,}\d")


class ParseError(ValueError):
    """Raised with the ``texts`` key of the hint that tells the owner the expected format."""

    def __init__(self, hint: str) -> None:
        super().__init__(hint)
        self.hint = hint


def parse_hhmm(text: str) -> int:
    """Return minutes past midnight for "9", "9:30", "09.30" or "24:00"."""
    match = _TIME.match(text.strip())
    if not match:
        raise ParseError("err_time")
    hours, minutes = int(match.group(1)), int(match.group(2) or 0)
    if minutes >= 60 or hours > 24 or (hours == 24 and minutes):
        raise ParseError("err_time")
    return hours * 60 + minutes


def parse_time_range(text: str) -> tuple[int, int]:
    """Return ``(start_min, end_min)`` for "10:00-19:00"; the end must follow the start."""
    match = _RANGE.match(text.strip())
    if not match:
        raise ParseError("err_time")
    start, end = parse_hhmm(match.group(1)), parse_hhmm(match.group(2))
    if end <= start:
        raise ParseError("err_time")
    return start, end


def parse_weekdays(text: str) -> list[int]:
    """Return weekdays (0 = Monday) for "Mon-Fri", "Пн,Ср,Пт", "Sat" or "daily"."""
    word = text.strip().lower()
    if word in _EVERY_DAY:
        return list(range(7))
    days: list[int] = []
    for part in word.split(","):
        part = part.strip()
        if not part:
            continue
        bounds = re.split(r"\s*[-–—]\s*", part)
        if len(bounds) == 1 and bounds[0] in _WEEKDAYS:
            days.append(_WEEKDAYS[bounds[0]])
        elif len(bounds) == 2 and bounds[0] in _WEEKDAYS and bounds[1] in _WEEKDAYS:
            first, last = _WEEKDAYS[bounds[0]], _WEEKDAYS[bounds[1]]
            day = first
            while True:
                days.append(day)
                if day == last:
                    break
                day = (day + 1) % 7
        else:
            raise ParseError("err_weekdays")
    if not days:
        raise ParseError("err_weekdays")
    return sorted(set(days))


def parse_weekly(text: str) -> dict[int, list[tuple[int, int]]]:
    """Parse weekly rules, one rule per line or ';': "Mon-Fri 10:00-19:00", "Sun off".

    Returns weekday -> list of local ranges; an empty list means the day is
    off. Weekdays not mentioned are absent from the result. Later lines win.
    """
    if len(text) > MAX_INPUT:
        raise ParseError("err_too_long")
    result: dict[int, list[tuple[int, int]]] = {}
    rules = [r.strip() for r in re.split(r"[;\n]", text) if r.strip()]
    if not rules:
        raise ParseError("err_hours")
    for rule in rules:
        digit = re.search(r"\d", rule)
        if digit:
            day_spec, range_spec = rule[: digit.start()], rule[digit.start() :]
        else:
            words = rule.rsplit(None, 1)
            if len(words) != 2 or words[1].lower() not in _OFF:
                raise ParseError("err_hours")
            day_spec, range_spec = words[0], ""
        if not day_spec.strip():
            raise ParseError("err_hours")
        days = parse_weekdays(re.sub(r"\s+", "", day_spec))
        if not range_spec:
            for day in days:
                result[day] = []
            continue
        normalised = re.sub(r"\s*[-–—]\s*", "-", range_spec)
        ranges = [parse_time_range(p) for p in re.split(r"[\s,]+", normalised) if p]
        ranges.sort()
        for first, second in itertools.pairwise(ranges):
            if second[0] < first[1]:
                raise ParseError("err_hours")
        for day in days:
            result[day] = list(ranges)
    return result


def parse_date(text: str, today: date) -> date:
    """Return a date for "15.01", "15.01.2026", "2026-01-15", "today" or "tomorrow".

    Without a year the next such date on or after ``today`` is meant, because
    owners block and book the future.
    """
    word = text.strip().lower()
    if word in {"today", "сегодня"}:
        return today
    if word in {"tomorrow", "завтра"}:
        return today + timedelta(days=1)
    iso = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", word)
    dotted = re.match(r"^(\d{1,2})[./](\d{1,2})(?:[./](\d{2}|\d{4}))?$", word)
    try:
        if iso:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        if dotted:
            day, month = int(dotted.group(1)), int(dotted.group(2))
            if dotted.group(3):
                year = int(dotted.group(3))
                return date(year + 2000 if year < 100 else year, month, day)
            candidate = date(today.year, month, day) if _valid(today.year, month, day) else None
            if candidate is None or candidate < today:
                year = today.year + 1
                while not _valid(year, month, day):  # 29 February
                    year += 1
                    if year > today.year + 8:
                        raise ParseError("err_date")
                return date(year, month, day)
            return candidate
    except ValueError as exc:
        raise ParseError("err_date") from exc
    raise ParseError("err_date")


def _valid(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class BlockInput:
    """A block or day off as typed: a date range, optionally only a time range each day."""

    first: date
    last: date
    minutes: tuple[int, int] | None


def parse_block(text: str, today: date) -> BlockInput:
    """Parse "15.01", "15.01-17.01" or "15.01 14:00-16:00" into a ``BlockInput``."""
    if len(text) > MAX_INPUT:
        raise ParseError("err_too_long")
    parts = text.strip().split()
    if not parts or len(parts) > 2:
        raise ParseError("err_block")
    dates = re.split(r"\s*[-–—]\s*(?=\d)", parts[0]) if not re.match(r"^\d{4}-", parts[0]) else [parts[0]]
    try:
        first = parse_date(dates[0], today)
        last = parse_date(dates[1], first) if len(dates) == 2 else first
    except ParseError as exc:
        raise ParseError("err_block") from exc
    if len(dates) > 2 or last < first or (last - first).days > 366:
        raise ParseError("err_block")
    minutes = parse_time_range(parts[1]) if len(parts) == 2 else None
    return BlockInput(first, last, minutes)


_DURATION = re.compile(
    r"^(?:(\d+)\s*(?:d|д|дн|day|days))?\s*(?:(\d+)\s*(?:h|ч|час|часа|часов|hours?))?\s*"
    r"(?:(\d+)\s*(?:m|м|мин|min|minutes?))?$"
)


def parse_minutes(text: str) -> int:
    """Return minutes for "90", "1:30", "2h", "1h30m", "24ч", "3d" (days for notice and cut-off)."""
    word = text.strip().lower()
    if word.isdigit():
        return int(word)
    clock = re.match(r"^(\d{1,3}):(\d{2})$", word)
    if clock and int(clock.group(2)) < 60:
        return int(clock.group(1)) * 60 + int(clock.group(2))
    match = _DURATION.match(word)
    if match and any(match.groups()):
        days, hours, minutes = (int(g) if g else 0 for g in match.groups())
        return days * 1440 + hours * 60 + minutes
    raise ParseError("err_minutes")


def parse_offsets(text: str) -> list[int]:
    """Parse reminder times before a visit, "24h, 2h" -> [1440, 120]; "off" means none."""
    word = text.strip().lower()
    if word in _OFF:
        return []
    values = sorted({parse_minutes(p) for p in re.split(r"[,;\s]+", word) if p}, reverse=True)
    if not values or len(values) > 5 or any(v <= 0 or v > 20160 for v in values):
        raise ParseError("err_offsets")
    return values


def parse_price(text: str) -> tuple[Decimal, Decimal | None]:
    """Return ``(price, price_max)`` for "1500", "1500.50" or a range "1500-2500"."""
    parts = [p.strip().replace(",", ".").replace(" ", "") for p in re.split(r"[-–—]", text.strip())]
    try:
        values = [Decimal(p) for p in parts]
    except InvalidOperation as exc:
        raise ParseError("err_price") from exc
    if not 1 <= len(values) <= 2 or any(v < 0 or v >= Decimal("1e10") for v in values):
        raise ParseError("err_price")
    if any(not v.is_finite() for v in values):
        raise ParseError("err_price")
    if len(values) == 2:
        if values[1] < values[0]:
            raise ParseError("err_price")
        return values[0], values[1] if values[1] != values[0] else None
    return values[0], None


@dataclass(frozen=True)
class ServiceInput:
    """A service as the owner typed it: "Haircut; 60; 1500-2500; Hair"."""

    name: str
    duration_min: int
    price: Decimal
    price_max: Decimal | None
    category: str | None


def parse_name(text: str) -> str:
    """Return a trimmed display name of 1..64 characters, or raise."""
    name = " ".join(text.split())
    if not 1 <= len(name) <= 64:
        raise ParseError("err_name")
    return name


def parse_service(text: str) -> ServiceInput:
    """Parse "name; minutes; price[; category]" (";" or "|" separated)."""
    if len(text) > MAX_INPUT:
        raise ParseError("err_too_long")
    parts = [p.strip() for p in re.split(r"[;|]", text)]
    if not 3 <= len(parts) <= 4:
        raise ParseError("err_service")
    name = parse_name(parts[0])
    duration = parse_minutes(parts[1])
    if not 5 <= duration <= 720:
        raise ParseError("err_duration")
    price, price_max = parse_price(parts[2])
    category = parse_name(parts[3]) if len(parts) == 4 and parts[3] else None
    return ServiceInput(name, duration, price, price_max, category)


def parse_client(text: str) -> tuple[str, str | None]:
    """Split "Anna +7 999 123-45-67" into a name and a normalised phone (digits, leading +)."""
    if len(text) > MAX_INPUT:
        raise ParseError("err_too_long")
    match = _PHONE.search(text)
    phone = normalise_phone(match.group(0)) if match else None
    name = " ".join((text[: match.start()] + " " + text[match.end() :]).split()) if match else " ".join(text.split())
    name = name.strip(" ,;")
    if not name and phone is None:
        raise ParseError("err_client")
    if len(name) > 64:
        raise ParseError("err_name")
    return name, phone


def normalise_phone(text: str) -> str:
    """Return a phone as "+" and digits, the form client cards are searched by."""
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 15:
        raise ParseError("err_phone")
    return "+" + digits


def parse_telegram_id(text: str) -> int:
    """Return a Telegram user id typed by the owner (digits only)."""
    word = text.strip()
    if not word.isdigit() or not 1 <= len(word) <= 15:
        raise ParseError("err_tg_id")
    return int(word)
