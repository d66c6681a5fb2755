"""The admin gate, the services and translator every handler takes, and the polite error boundary.

The gate is an outer middleware on every update, so a person not in ``OPERATOR_ADMINS`` reaches no
handler at all: whatever they send (a command, a forged button, a photo) gets one polite sentence and
nothing else happens.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, ErrorEvent, Message, TelegramObject, Update, User

from botpool.i18n import N_
from botpool.outages import report_and_apologise
from operator_bot.context import Ops
from operator_bot.texts import OperatorTr, catalog

log = structlog.get_logger("operator_bot")
#: The texts ``report_and_apologise`` answers with, written out here so the extraction keeps them.
APOLOGIES = (N_("outage"), N_("error"))

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class GateMiddleware(BaseMiddleware):
    """Let admins through with ``ops`` and ``tr`` in the handler data; refuse everyone else politely."""

    def __init__(self, ops: Ops) -> None:
        """Keep the services built at start (the admin list is in their settings)."""
        self.ops = ops

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        """Refuse a stranger once, or add the context and run the handler."""
        user: User | None = data.get("event_from_user")
        tr = OperatorTr(catalog(), user.language_code if user else None)
        if user is None or user.id not in self.ops.settings.admins:
            log.info("stranger refused", user_id=user.id if user else None)
            await _refuse(event, tr)
            return None
        data["ops"] = self.ops
        data["tr"] = tr
        return await handler(event, data)


async def _refuse(event: TelegramObject, tr: OperatorTr) -> None:
    inner = event.event if isinstance(event, Update) else event
    if isinstance(inner, CallbackQuery):
        await inner.answer(tr("not_admin"), show_alert=True)
    elif isinstance(inner, Message) and inner.chat.type == "private":
        await inner.answer(tr("not_admin"))


async def error_boundary(event: ErrorEvent, **data: Any) -> None:
    """The dispatcher's error handler: log without secrets and answer the operator in one sentence."""
    user: User | None = data.get("event_from_user")
    tr: OperatorTr = data.get("tr") or OperatorTr(catalog(), user.language_code if user else None)
    await report_and_apologise(event, tr, log)
