"""The sales bot's texts: gettext catalogs (``sales_bot/locales/<lang>/LC_MESSAGES/sales.po``) with message
keys as ids, read through ``botpool.i18n`` like the booking bot's; Russian by default, English available.

``SalesTr`` adds the two formats the sales texts need in the reader's language: a price and a period
in days (Russian has three plural forms).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from botpool.commerce.tariffs import Tariff
from botpool.i18n import Catalog, Translator

LOCALES = Path(__file__).resolve().parent / "locales"
DOMAIN = "sales"
CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€"}


@cache
def catalog() -> Catalog:
    """The compiled catalogs, loaded once per process (``make texts`` compiles them)."""
    return Catalog(LOCALES, DOMAIN, default="ru")


class SalesTr(Translator):
    """A translator with price and period formats."""

    __slots__ = ()

    def money(self, kopecks: int, currency: str) -> str:
        """990 ₽, 1 234,50 ₽ (ru) or 990 RUB (en, for codes without a sign)."""
        whole, minor = divmod(kopecks, 100)
        number = f"{whole:,}".replace(",", "\u00a0")
        if minor:
            number += ("," if self.lang == "ru" else ".") + f"{minor:02d}"
        return f"{number}\u00a0{CURRENCY_SIGNS.get(currency, currency)}"

    def days(self, n: int) -> str:
        """"30 дней", "1 day": the period with the plural form the language needs."""
        if self.lang == "ru":
            tail, tens = n % 10, n % 100
            if tail == 1 and tens != 11:
                key = "days_one"
            elif 2 <= tail <= 4 and not 12 <= tens <= 14:
                key = "days_few"
            else:
                key = "days_many"
        else:
            key = "days_one" if n == 1 else "days_many"
        return self(key, n=n)

    def tariff(self, tariff: Tariff) -> str:
        """One line for a tariff button: its title, price and period."""
        return self(
            "tariff_button", title=tariff.title, price=self.money(tariff.price_kopecks, tariff.currency),
            days=self.days(tariff.days),
        )


def tr_for(lang: str | None) -> SalesTr:
    """The translator for a stored or reported language (unknown ones get Russian)."""
    return SalesTr(catalog(), lang)
