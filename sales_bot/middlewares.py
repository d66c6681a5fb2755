"""Update middlewares: a polite error boundary, and the services and translator every handler takes.

Updates of one user are already handled one at a time, in order, with the conversation state loaded
after the lock: the dispatcher runs with ``RedisEventIsolation`` (see ``app``), which also holds across
several sales bot replicas.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User

from botpool.logs import redact
from sales_bot.context import Sales
from sales_bot.texts import SalesTr, catalog

log = structlog.get_logger("sales_bot")

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ContextMiddleware(BaseMiddleware):
    """Put ``sales`` (the services) and ``tr`` (texts in the user's Telegram language) into handler data."""

    def __init__(self, sales: Sales) -> None:
        """Keep the services built at start."""
        self.sales = sales

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Add the context, then run the handler."""
        user: User | None = data.get("event_from_user")
        data["sales"] = self.sales
        data["tr"] = SalesTr(catalog(), user.language_code if user else None)
        return await handler(event, data)


class ErrorMiddleware(BaseMiddleware):
    """Catch what a handler raises: log it without secrets, apologise to the user, never show a traceback."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Run the chain; on an exception log (redacted) and answer politely instead of propagating."""
        try:
            return await handler(event, data)
        except Exception as exc:
            update_id = event.update_id if isinstance(event, Update) else None
            log.error("update failed", update_id=update_id, error=type(exc).__name__, detail=redact(str(exc))[:300])
            tr: SalesTr = data.get("tr") or SalesTr(catalog(), None)
            inner = event.event if isinstance(event, Update) else event
            try:
                if isinstance(inner, CallbackQuery):
                    await inner.answer(tr("error"), show_alert=True)
                elif isinstance(inner, Message):
                    await inner.answer(tr("error"))
            except Exception as send_exc:
                log.warning("could not apologise", error=type(send_exc).__name__)
            return None
