"""The sales bot's texts: gettext catalogs (``sales_bot/locales/<lang>/LC_MESSAGES/sales.po``) with message
keys as ids, read through ``botpool.i18n`` like the booking bot's; Russian by default, English available.

``SalesTr`` adds the two formats the sales texts need in the reader's language: a price and a period
in days (Russian has three plural forms).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botpool.commerce.orders import OrderStatus
from botpool.commerce.tariffs import Tariff
from botpool.i18n import N_, Catalog, Translator

LOCALES = Path(__file__).resolve().parent / "locales"
DOMAIN = "sales"
CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€"}

#: Where an order stands, as told to its buyer (every key is written out so the extraction sees it).
STATUS: dict[OrderStatus, str] = {
    OrderStatus.DRAFT: N_("status_draft"),
    OrderStatus.AWAITING_PAYMENT: N_("status_awaiting_payment"),
    OrderStatus.PAID: N_("status_paid"),
    OrderStatus.ACTIVATING: N_("status_activating"),
    OrderStatus.ACTIVE: N_("status_active"),
    OrderStatus.FAILED: N_("status_failed"),
    OrderStatus.CANCELED: N_("status_canceled"),
}
#: A company name the tenant spec refused, by the spec's stable error code.
SPEC: dict[str, str] = {
    "company_name_empty": N_("spec_company_name_empty"),
    "company_name_too_long": N_("spec_company_name_too_long"),
    "company_name_control_characters": N_("spec_company_name_control_characters"),
    "company_name_needs_letters": N_("spec_company_name_needs_letters"),
}
_DAYS_ONE, _DAYS_FEW, _DAYS_MANY = N_("days_one"), N_("days_few"), N_("days_many")
_TARIFF_BUTTON = N_("tariff_button")


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
                key = _DAYS_ONE
            elif 2 <= tail <= 4 and not 12 <= tens <= 14:
                key = _DAYS_FEW
            else:
                key = _DAYS_MANY
        else:
            key = _DAYS_ONE if n == 1 else _DAYS_MANY
        return self(key, n=n)

    def date(self, moment: datetime, zone: str) -> str:
        """A day as the salon sees it: ``moment`` in the business time zone ``zone``, "31.12.2026"."""
        try:
            local = moment.astimezone(ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            local = moment.astimezone(UTC)
        return local.strftime("%d.%m.%Y" if self.lang == "ru" else "%Y-%m-%d")

    def tariff(self, tariff: Tariff) -> str:
        """One line for a tariff button: its title, price and period."""
        return self(
            _TARIFF_BUTTON, title=tariff.title, price=self.money(tariff.price_kopecks, tariff.currency),
            days=self.days(tariff.days),
        )


def tr_for(lang: str | None) -> SalesTr:
    """The translator for a stored or reported language (unknown ones get Russian)."""
    return SalesTr(catalog(), lang)
