"""The operator bot's texts: gettext catalogs (``operator_bot/locales/<lang>/LC_MESSAGES/operator.po``) with
message keys as ids, read through ``botpool.i18n`` like the other bots'; Russian by default, English available.

``OperatorTr`` adds the formats an operator reads: money, a percentage and a time in the business zone.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from botpool.i18n import Catalog, Translator

LOCALES = Path(__file__).resolve().parent / "locales"
DOMAIN = "operator"
CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€"}


@cache
def catalog() -> Catalog:
    """The compiled catalogs, loaded once per process (``make texts`` compiles them)."""
    return Catalog(LOCALES, DOMAIN, default="ru")


class OperatorTr(Translator):
    """A translator with money, percentage and time formats."""

    __slots__ = ()

    def money(self, kopecks: int, currency: str) -> str:
        """990 ₽, 1 234,50 ₽ (ru) or 1 234.50 ₽ (en)."""
        whole, minor = divmod(kopecks, 100)
        number = f"{whole:,}".replace(",", "\u00a0")
        if minor:
            number += ("," if self.lang == "ru" else ".") + f"{minor:02d}"
        return f"{number}\u00a0{CURRENCY_SIGNS.get(currency, currency)}"

    def percent(self, share: float) -> str:
        """0.533 → "53%"."""
        return f"{share * 100:.0f}%"

    def when(self, at: datetime | None, zone: ZoneInfo) -> str:
        """A stored UTC time in the business zone, or a dash."""
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if at is not None else "—"


def tr_for(lang: str | None) -> OperatorTr:
    """The translator for a language (unknown ones get Russian): alerts are pushed outside any update."""
    return OperatorTr(catalog(), lang)
