"""What every part of the booking service shares: the tenant's pool, configuration, clock and texts.

Why a base: the use cases, the availability queries, the outbox and the
screens' data are separate modules (one concept each) that the
``BookingService`` class joins; all of them read "now" from the same
injected clock and format in the business's time zone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import asyncpg

from bot_runtime.booking.clock import Clock, system_clock
from bot_runtime.booking.config import BookingConfig
from bot_runtime.booking.domain.availability import local_today
from bot_runtime.booking.storage.bookings import Booking
from bot_runtime.booking.texts import Tr


class AlertButtons(Protocol):
    """Builds the buttons under an owner alert as Bot API JSON (the UI layer supplies it)."""

    def __call__(self, tr: Tr, booking_id: int, *, approval: bool) -> dict[str, Any]:
        """Return the inline keyboard for an alert about ``booking_id``."""


class ServiceBase:
    """The tenant binding every part of ``BookingService`` builds on."""

    def __init__(
        self,
        *,
        pool: asyncpg.Pool,
        config: BookingConfig,
        alert_buttons: AlertButtons,
        clock: Clock | None = None,
    ) -> None:
        """Bind to the tenant; the time zone is parsed once (a bad name fails at start, not per update).

        ``alert_buttons`` comes from the keyboards module: alerts are queued
        with their buttons inside a use case's transaction, but the use-case
        layer does not know how buttons look.
        """
        self.pool = pool
        self.config = config
        self.alert_buttons = alert_buttons
        self.clock: Clock = clock or system_clock
        self.tz = ZoneInfo(config.timezone)

    def now(self) -> datetime:
        """Return the current instant from the injected clock."""
        return self.clock()

    def today(self) -> date:
        """Return the business's local date."""
        return local_today(self.now(), self.tz)

    def tr_for(self, language: str | None) -> Tr:
        """Return texts in ``language`` or the business's default."""
        return Tr(language or self.config.language)

    def client_label(self, booking: Booking) -> str:
        """Name, @username and phone of a booking's client, for owner screens."""
        parts = [booking.client_name or "?"]
        if booking.client_username:
            parts.append(f"@{booking.client_username}")
        if booking.client_phone:
            parts.append(booking.client_phone)
        return " ".join(parts)

    def booking_values(self, tr: Tr, booking: Booking) -> dict[str, Any]:
        """The common substitutions of booking texts in ``tr``'s language."""
        return {
            "title": booking.title,
            "master": booking.master_name,
            "when": tr.when(booking.starts_at, self.tz),
            "price": tr.price(booking.price, booking.price_max),
            "duration": tr.delta(booking.duration),
            "client": self.client_label(booking),
            "company": self.config.company_name,
        }
