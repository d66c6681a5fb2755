"""The grace period as clients and the owner see it: booking paused, the owner told how to renew.

When the paid period ends, the bot keeps running for the tenant's grace period (the reconciler releases
it afterwards). Meanwhile clients who write get one clear sentence, booking is paused and how to reach
the salon, instead of a flow that would book into a salon about to go dark; the owner keeps the whole
admin panel and sees, on /start, until when the bot still runs and where to renew. The period comes
from the tenant's own ``subscription`` row, which the control plane writes at activation and in the
renewal's transaction (``botpool.tenancy.provision.write_subscription``); it is re-read every
``REFRESH_S`` of the bot's clock, so a renewal resumes booking within seconds, with no restart. No row (a schema
from before this existed) means "not paused".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot_runtime.booking.clock import Clock
from bot_runtime.booking.config import BookingConfig
from bot_runtime.booking.middlewares import Handler
from bot_runtime.booking.texts import Html, Tr

#: How long a read of the subscription row is reused (a renewal shows within this).
REFRESH_S = 10.0


@dataclass(frozen=True)
class Period:
    """The tenant's paid period and the end of its grace period."""

    paid_until: datetime
    serve_until: datetime


class PausedGate(BaseMiddleware):
    """Let clients through only while the tenant is paid; the owner always, told about the pause."""

    def __init__(self, pool: asyncpg.Pool, config: BookingConfig, clock: Clock) -> None:
        """Read the period through ``pool`` (the tenant's own role); ``clock`` says what time it is."""
        self.pool = pool
        self.config = config
        self.clock = clock
        self._period: Period | None = None
        self._read_at: datetime | None = None

    async def period(self) -> Period | None:
        """The stored period (cached for ``REFRESH_S``), or None if the tenant has none."""
        now = self.clock()
        if self._read_at is None or (now - self._read_at).total_seconds() >= REFRESH_S:
            try:
                row = await self.pool.fetchrow("SELECT paid_until, serve_until FROM subscription WHERE id")
            except asyncpg.UndefinedTableError:
                row = None
            self._period = Period(row["paid_until"], row["serve_until"]) if row else None
            self._read_at = now
        return self._period

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Answer a client with "paused" during the grace period; otherwise hand the update on."""
        period = await self.period()
        if period is None or self.clock() < period.paid_until or not isinstance(event, Update):
            return await handler(event, data)
        tr: Tr = data["tr"]
        zone = ZoneInfo(self.config.timezone)
        if data.get("is_admin"):
            message = event.message
            if message is not None and (message.text or "").startswith("/start"):
                await message.answer(tr(
                    "paused_owner",
                    paid_until=period.paid_until.astimezone(zone).strftime("%d.%m.%Y"),
                    serve_until=period.serve_until.astimezone(zone).strftime("%d.%m.%Y %H:%M"),
                ))
            return await handler(event, data)
        if event.message is not None:
            await event.message.answer(tr("paused_client", company=self.config.company_name))
        elif event.callback_query is not None:  # an alert is plain text: the name goes in unescaped
            await event.callback_query.answer(
                tr("paused_client", company=Html(self.config.company_name)), show_alert=True
            )
        return None
