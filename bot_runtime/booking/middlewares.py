"""The per-update context middleware: who is writing, in which language, with which rights.

Why a middleware: every handler needs the sender's client row, language,
admin flag and the current booking rules; that is cross-cutting, so it wraps
the routers once instead of living in each handler. (The error boundary is
an aiogram error handler, ``bot_runtime.booking.errors``.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Chat, Message, TelegramObject, User

from bot_runtime.booking.service import BookingService
from bot_runtime.booking.storage import clients
from bot_runtime.booking.texts import Tr

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


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
