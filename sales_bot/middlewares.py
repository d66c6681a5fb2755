"""The services and translator every handler takes (a middleware), and the polite error boundary.

Updates of one user are already handled one at a time, in order, with the conversation state loaded
after the lock: the dispatcher runs with ``RedisEventIsolation`` (see ``app``), which also holds across
several sales bot replicas.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiogram import BaseMiddleware
from aiogram.types import ErrorEvent, TelegramObject, User

from botpool.i18n import N_
from botpool.outages import report_and_apologise
from sales_bot.context import Sales
from sales_bot.texts import SalesTr, catalog

log = structlog.get_logger("sales_bot")
#: The texts ``report_and_apologise`` answers with, written out here so the extraction keeps them.
APOLOGIES = (N_("outage"), N_("error"))

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


async def error_boundary(event: ErrorEvent, **data: Any) -> None:
    """The dispatcher's error handler (``dp.errors``): log without secrets and answer the user politely.

    An error handler rather than a middleware of ours, because aiogram takes the user's lock
    (``RedisEventIsolation``) and loads the conversation state from Redis before any middleware we add
    runs: with Redis down, only an error handler sees the failure, and the buyer would otherwise get
    silence. A dependency outage gets "try again in a minute" and one warning line; anything else is a
    bug, logged with its redacted message.
    """
    user: User | None = data.get("event_from_user")
    tr: SalesTr = data.get("tr") or SalesTr(catalog(), user.language_code if user else None)
    await report_and_apologise(event, tr, log)
