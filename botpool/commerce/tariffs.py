"""What the sales bot sells: tariffs with a price in integer kopecks, a currency and a period in days.

Prices are integers of the currency's minor unit because money must add up exactly (no float ever
touches an amount); YooKassa's ``"990.00"`` strings are produced from them at the edge. The list comes
from configuration (``BOTPOOL_TARIFFS``, a JSON list) so prices change without a release; the defaults
are the earlier product's: basic 990 RUB / 30 days, pro 2490 RUB / 90 days, premium 7990 RUB / 365 days.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings

from botpool.settings import _COMMON


class Tariff(BaseModel, frozen=True):
    """One thing for sale: its code (stored on orders), a title for buttons, price and period."""

    code: str = Field(pattern=r"^[a-z0-9_]{1,32}$")
    title: str = Field(min_length=1, max_length=64)
    price_kopecks: int = Field(gt=0, le=100_000_000_00)
    currency: str = Field("RUB", pattern=r"^[A-Z]{3}$")
    days: int = Field(gt=0, le=3660)

    @property
    def price(self) -> Decimal:
        """The price in major units, exact (990.00)."""
        return kopecks_to_decimal(self.price_kopecks)


DEFAULT_TARIFFS = (
    Tariff(code="basic", title="Basic", price_kopecks=990_00, currency="RUB", days=30),
    Tariff(code="pro", title="Pro", price_kopecks=2490_00, currency="RUB", days=90),
    Tariff(code="premium", title="Premium", price_kopecks=7990_00, currency="RUB", days=365),
)


class TariffSettings(BaseSettings):
    """The tariff list from ``BOTPOOL_TARIFFS`` (JSON), defaulting to the three standard tariffs."""

    model_config = _COMMON
    tariffs: tuple[Tariff, ...] = Field(DEFAULT_TARIFFS, alias="BOTPOOL_TARIFFS")

    @field_validator("tariffs")
    @classmethod
    def _unique_codes(cls, value: tuple[Tariff, ...]) -> tuple[Tariff, ...]:
        codes = [t.code for t in value]
        if not codes:
            raise ValueError("at least one tariff is required")
        if len(set(codes)) != len(codes):
            raise ValueError("tariff codes must be unique")
        return value

    def get(self, code: str) -> Tariff | None:
        """The tariff with this code, or None (a stale button may name a tariff that was removed)."""
        return next((t for t in self.tariffs if t.code == code), None)


def kopecks_to_decimal(kopecks: int) -> Decimal:
    """Integer minor units to an exact decimal amount (99000 -> 990.00)."""
    return (Decimal(kopecks) / 100).quantize(Decimal("0.01"))


def kopecks_to_value(kopecks: int) -> str:
    """Integer minor units to YooKassa's amount string (99000 -> "990.00")."""
    return f"{kopecks // 100}.{kopecks % 100:02d}"


def value_to_kopecks(value: object) -> int | None:
    """YooKassa's amount (string or Decimal) to integer minor units; None if it is not an exact amount."""
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return None
    minor = amount * 100
    if not amount.is_finite() or minor != minor.to_integral_value():
        return None
    return int(minor)
