"""Telling a dependency outage from a bug: one list, used by every bot's error boundary.

A bot that loses Redis or PostgreSQL for a moment (a restart, a failover) should tell its user "try again
in a minute" and log one line; anything else is a bug someone must look at, logged with its traceback.
The booking bot and the sales bot both answer that way, so what counts as an outage is decided here once.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import redis.exceptions
from aiogram.types import CallbackQuery, ErrorEvent, Message

from botpool.i18n import Translator
from botpool.logs import redact

#: Exceptions that mean a backing service is unreachable or restarting rather than a bug in the bot.
OUTAGES: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,  # also refused AUTH and a Redis still loading its data
    redis.exceptions.TimeoutError,
    asyncpg.PostgresConnectionError,  # a pooled connection the server closed
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, crash recovery
    asyncpg.exceptions.TooManyConnectionsError,
    OSError,  # connection refused or reset while (re)connecting
    TimeoutError,
)


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what it was raised from) says a dependency is down, not that the code is wrong."""
    return isinstance(exc, OUTAGES) or isinstance(exc.__cause__, OUTAGES)


async def report_and_apologise(event: ErrorEvent, tr: Translator, log: Any) -> None:
    """What a bot's error handler does with a failed update: one log line, one sentence to the user.

    A dependency outage is a warning and "try again in a minute" (``tr("outage")``); anything else is a
    bug, logged as an error with its redacted message, and the user gets ``tr("error")``. A button press
    is answered with an alert, a private message with a message; if even that fails, a warning is logged.
    Shared by the sales bot and the operator bot (each passes its own texts and logger).
    """
    exc, update = event.exception, event.update
    outage = is_outage(exc)
    if outage:
        log.warning("update failed: dependency unavailable", update_id=update.update_id, error=type(exc).__name__)
    else:
        log.error("update failed", update_id=update.update_id, error=type(exc).__name__,
                  detail=redact(str(exc))[:300])
    text = tr("outage") if outage else tr("error")
    inner = update.event
    try:
        if isinstance(inner, CallbackQuery):
            await inner.answer(text, show_alert=True)
        elif isinstance(inner, Message) and inner.chat.type == "private":
            await inner.answer(text)
    except Exception as send_exc:
        log.warning("could not apologise", error=type(send_exc).__name__)
