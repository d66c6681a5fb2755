"""The per-tenant configuration the runtime hands to the booking bot."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BookingConfig:
    """Who the bot belongs to and how it speaks; the rest of the rules live in the tenant's schema.

    ``tenant_id`` is also the PostgreSQL schema name; ``admin_telegram_id`` is
    the owner verified by the sales flow; ``timezone`` is the IANA zone in
    which times are shown and typed; ``language`` ("ru" or "en") is used until
    a user picks their own.
    """

    tenant_id: str
    company_name: str
    admin_telegram_id: int
    timezone: str = "Europe/Moscow"
    language: str = "ru"
