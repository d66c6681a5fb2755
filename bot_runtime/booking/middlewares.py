"""Update middlewares: one update at a time per user, a polite error boundary, and the per-update context.

Why middlewares: every handler needs the sender's client row, language,
admin flag and the current booking rules, and every failure must end in a
polite answer rather than silence; both are cross-cutting, so they wrap the
routers once instead of living in each handler.
"""

from __future__ import annotations

import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiogram import BaseMiddleware, Bot
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject, Update, User

from bot_runtime.booking.config import BookingConfig
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.storage import clients
from bot_runtime.booking.texts import Tr

log = structlog.get_logger("botpool.booking")

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ErrorMiddleware(BaseMiddleware):
    """Catch anything a handler raises: log it without secrets and answer the user politely."""

    def __init__(self, config: BookingConfig) -> None:
        """Keep the configuration for the default language of the apology."""
        self.config = config

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Run the rest of the chain; on an exception log and apologise instead of propagating."""
        try:
            return await handler(event, data)
        except Exception as exc:
            bot: Bot | None = data.get("bot")
            update_id = event.update_id if isinstance(event, Update) else None
            details = "".join(traceback.format_exception(exc))
            if bot is not None:
                # The token can appear in URLs inside network errors; never log it.
                details = details.replace(bot.token, "<token>")
            log.error(
                "update failed",
                tenant_id=self.config.tenant_id,
                update_id=update_id,
                error=type(exc).__name__,
                details=details,
            )
            tr: Tr = data.get("tr") or Tr(self.config.language)
            await _apologise(event, tr)
            return None


async def _apologise(event: TelegramObject, tr: Tr) -> None:
    """Tell the user something went wrong, through whatever channel the update offers."""
    if not isinstance(event, Update):
        return
    try:
        if event.callback_query is not None:
            await event.callback_query.answer(tr("error"), show_alert=True)
        elif event.message is not None:
            await event.message.answer(tr("error"))
    except Exception as exc:  # the apology itself failed (Telegram down): nothing more to do
        log.warning("could not apologise", error=type(exc).__name__)


class ContextMiddleware(BaseMiddleware):
    """Load the sender's context in one query and hand it to filters and handlers.

    Injects ``tr`` (texts in the user's language), ``lang``, ``client_id``,
    ``settings``, ``is_admin``, ``is_owner`` and ``blacklisted``. Updates
    from groups or without a sender are ignored: the booking bot works in
    private chats only.
    """

    def __init__(self, service: BookingService) -> None:
        """Bind to the tenant's service (pool and configuration)."""
        self.service = service

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Register or refresh the sender, then continue with the enriched data."""
        user: User | None = data.get("event_from_user")
        chat: Chat | None = data.get("event_chat")
        if user is None or user.is_bot or (chat is not None and chat.type != "private"):
            return None
        config = self.service.config
        touch = await clients.touch(self.service.pool, user.id, user.full_name, user.username)
        lang = touch.language or config.language
        is_owner = user.id == config.admin_telegram_id
        data.update(
            tr=Tr(lang),
            lang=lang,
            client_id=touch.client_id,
            settings=touch.settings,
            is_owner=is_owner,
            is_admin=is_owner or touch.is_admin_row,
            blacklisted=touch.blacklisted,
        )
        return await handler(event, data)


def event_user(event: Message | CallbackQuery) -> User:
    """Return the sender of a message or button press (the context middleware guarantees one)."""
    user = event.from_user
    if user is None:
        raise RuntimeError("update without a sender reached a handler")
    return user
