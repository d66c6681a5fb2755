"""The booking bot's texts and formats, Russian (default) and English, from the ``booking`` gettext catalogs.

The texts live in ``locales/<lang>/LC_MESSAGES/booking.po`` (the compiled
``.mo`` is committed beside each), looked up by key through ``botpool.i18n``;
this module adds what is particular to booking: dates, times, durations,
prices and statuses. Values substituted into texts are escaped unless wrapped
in ``Html``, so a client named "<b>" cannot break a message.

Month and weekday names are catalog messages rather than Babel's CLDR date
formats: CLDR writes Russian short weekdays and stand-alone months in lower
case ("вт, 11 марта", "март 2025") where the bot shows "Вт" and "Март", and a
translator sees them with every other text. Keys the code chooses at run time
are written out here with ``N_``, so extraction finds every key in one pass.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from botpool.i18n import MAX_TEXT, N_, Catalog, Html, Translator, esc, fit

__all__ = ["CATALOG", "LANGUAGES", "MAX_TEXT", "Html", "Tr", "all_variants", "esc", "fit"]

#: The booking bot's catalogs, loaded once per process.
CATALOG = Catalog(Path(__file__).with_name("locales"), "booking", default="ru")
LANGUAGES = CATALOG.languages

#: Short weekday names, Monday first ("Пн" / "Mon").
WEEKDAY_KEYS = (
    N_("weekday_1"),
    N_("weekday_2"),
    N_("weekday_3"),
    N_("weekday_4"),
    N_("weekday_5"),
    N_("weekday_6"),
    N_("weekday_7"),
)
#: Month names as written in a date ("11 марта" / "11 Mar").
DATE_MONTH_KEYS = (
    N_("date_month_01"),
    N_("date_month_02"),
    N_("date_month_03"),
    N_("date_month_04"),
    N_("date_month_05"),
    N_("date_month_06"),
    N_("date_month_07"),
    N_("date_month_08"),
    N_("date_month_09"),
    N_("date_month_10"),
    N_("date_month_11"),
    N_("date_month_12"),
)
#: Month names heading a calendar ("Март 2025" / "March 2025").
MONTH_TITLE_KEYS = (
    N_("month_title_01"),
    N_("month_title_02"),
    N_("month_title_03"),
    N_("month_title_04"),
    N_("month_title_05"),
    N_("month_title_06"),
    N_("month_title_07"),
    N_("month_title_08"),
    N_("month_title_09"),
    N_("month_title_10"),
    N_("month_title_11"),
    N_("month_title_12"),
)
#: A booking's status as a word ("pending" has a second, mid-sentence form: "status_pending").
STATUS_KEYS = {
    "held": N_("status_held"),
    "pending": N_("status_pending_word"),
    "confirmed": N_("status_confirmed"),
    "cancelled": N_("status_cancelled"),
    "no_show": N_("status_no_show"),
}
#: Failures of ``BookingService.confirm`` (``storage.bookings.ConfirmFailure``) shown to the client as ``tr(result)``.
CONFIRM_FAILURE_KEYS = (N_("hold_lost"), N_("too_late"), N_("too_many"))


def _names(lang: str) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Look up a language's weekday and month names once, not on every date formatted."""
    tr = Translator(CATALOG, lang)
    return tuple(map(tr, WEEKDAY_KEYS)), tuple(map(tr, DATE_MONTH_KEYS)), tuple(map(tr, MONTH_TITLE_KEYS))


_NAMES = {lang: _names(lang) for lang in LANGUAGES}


def all_variants(key: str) -> frozenset[str]:
    """Return the text of ``key`` in every language: reply-keyboard buttons match any of them."""
    return CATALOG.variants(key)


class Tr(Translator):
    """Texts and formats of one language, handed to every handler as ``tr``; unknown languages get Russian."""

    __slots__ = ("_month_titles", "_months", "_weekdays")

    def __init__(self, lang: str) -> None:
        """Pick ``lang``; anything without a catalog falls back to Russian, the default."""
        super().__init__(CATALOG, lang)
        self._weekdays, self._months, self._month_titles = _NAMES[self.lang]

    def day(self, value: date) -> str:
        """Format a date like "Вт, 11 марта" / "Tue, 11 Mar"."""
        return f"{self._weekdays[value.weekday()]}, {value.day} {self._months[value.month - 1]}"

    def day_short(self, value: date) -> str:
        """Format a date as "11.03" for dense lists."""
        return value.strftime("%d.%m")

    def when(self, instant: datetime, tz: ZoneInfo) -> str:
        """Format an instant in the business time zone: "Вт, 11 марта, 15:00"."""
        local = instant.astimezone(tz)
        return f"{self.day(local.date())}, {local:%H:%M}"

    def time(self, instant: datetime, tz: ZoneInfo) -> str:
        """Format the local wall time of an instant, "15:00"."""
        return f"{instant.astimezone(tz):%H:%M}"

    def month_title(self, year: int, month: int) -> str:
        """Return "Март 2025" / "March 2025"."""
        return f"{self._month_titles[month - 1]} {year}"

    def weekday_names(self) -> tuple[str, ...]:
        """Return the short weekday names, Monday first."""
        return self._weekdays

    def duration(self, minutes: int) -> str:
        """Format a duration: "1 ч 30 мин" / "1 h 30 min"; whole days from two days up as days."""
        if minutes >= 2880 and minutes % 1440 == 0:
            return self(N_("days_short"), n=minutes // 1440)
        hours, rest = divmod(minutes, 60)
        parts = []
        if hours:
            parts.append(self(N_("hours_short"), n=hours))
        if rest or not hours:
            parts.append(self(N_("minutes_short"), n=rest))
        return " ".join(parts)

    def delta(self, value: timedelta) -> str:
        """Format a timedelta as a duration."""
        return self.duration(int(value.total_seconds() // 60))

    def price(self, low: Decimal, high: Decimal | None = None) -> str:
        """Format a price or a price range in roubles."""
        if high is not None and high != low:
            return self(N_("price_from_to"), low=_money(low), high=_money(high))
        if low == 0:
            return self(N_("price_free"))
        return self(N_("price_one"), value=_money(low))

    def status(self, status: str) -> str:
        """Translate a booking status (an unknown one is a bug: ``KeyError``)."""
        return self(STATUS_KEYS[status])


def _money(value: Decimal) -> str:
    """Format money with space-separated thousands and no trailing ".00"."""
    text = f"{value:,.2f}".replace(",", " ")
    return text[:-3] if text.endswith(".00") else text
