"""The booking bot's error boundary: whatever fails while handling an update, the user gets a polite answer.

Why an aiogram error handler (``dp.errors``) rather than an update middleware
of our own: aiogram registers its ``ErrorsMiddleware`` as the very first outer
middleware of every dispatcher, before its FSM middleware, which reads the
user's state from Redis before any middleware we could add runs. A Redis
outage therefore fails outside any middleware of ours; only an error handler
sees it. The same handler covers failures in the rate limiter, the context
middleware and every handler, so there is one boundary, not two.

A failure of a dependency (Redis or PostgreSQL down or restarting) gets a
"technical pause, try again in a minute" answer and a one-line warning; any
other failure is a bug: it is logged with its traceback (the bot token
removed) and the user gets the generic apology. Either way aiogram never
logs the traceback itself and the user never meets silence.
"""

from __future__ import annotations

import asyncio
import traceback
from typing import Any

import asyncpg
import structlog
from aiogram import Bot
from aiogram.types import Chat, ErrorEvent, Update, User

from bot_runtime.booking.config import BookingConfig
from bot_runtime.booking.storage import clients
from bot_runtime.booking.texts import Tr
from botpool.outages import is_outage

log = structlog.get_logger("botpool.booking")

#: How long the apology may wait for the user's language from PostgreSQL (which may be the one down).
LANGUAGE_LOOKUP_S = 1.0


class ErrorBoundary:
    """Registered with ``dp.errors.register(boundary.handle)``: log the failure and answer the user."""

    def __init__(self, config: BookingConfig, pool: asyncpg.Pool) -> None:
        """Keep the tenant's configuration (default language) and pool (the user's chosen language)."""
        self.config = config
        self.pool = pool

    async def handle(self, event: ErrorEvent, **data: Any) -> None:
        """Log ``event.exception`` without secrets and apologise; returning marks the error handled."""
        exc = event.exception
        update = event.update
        outage = is_outage(exc)
        if outage:
            log.warning(
                "update failed: dependency unavailable",
                tenant_id=self.config.tenant_id, update_id=update.update_id, error=type(exc).__name__,
            )
        else:
            details = "".join(traceback.format_exception(exc))
            bot: Bot | None = data.get("bot")
            if bot is not None:
                # The token can appear in URLs inside network errors; never log it.
                details = details.replace(bot.token, "<token>")
            log.error(
                "update failed",
                tenant_id=self.config.tenant_id, update_id=update.update_id, error=type(exc).__name__,
                details=details,
            )
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        if user is None or user.is_bot or (chat is not None and chat.type != "private"):
            return  # the bot serves private chats only; never answer into a group
        tr: Tr = data.get("tr") or await self._translator(user.id)
        await _apologise(update, tr("outage") if outage else tr("error"))

    async def _translator(self, telegram_id: int) -> Tr:
        """The user's chosen language when the failure struck before it was loaded, else the salon's default."""
        language: str | None = None
        try:
            async with asyncio.timeout(LANGUAGE_LOOKUP_S):
                language = (await clients.languages(self.pool, [telegram_id])).get(telegram_id)
        except Exception as exc:  # PostgreSQL may be the dependency that is down
            log.info("client language unavailable; using the default", error=type(exc).__name__)
        return Tr(language or self.config.language)


async def _apologise(update: Update, text: str) -> None:
    """Tell the user through whatever channel the update offers: an alert on a button, a message otherwise."""
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.message is not None:
            await update.message.answer(text)
    except Exception as exc:  # the apology itself failed (Telegram down): nothing more to do
        log.warning("could not apologise", error=type(exc).__name__)
