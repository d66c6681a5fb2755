"""Keep aiogram's per-method ``Response[...]`` models alive so pydantic does not rebuild them.

Why: aiogram's session validates every Bot API answer with
``Response[method.__returning__]``; pydantic caches parametrised generic
models only weakly, so between bursts the classes are garbage-collected and
rebuilt, at several milliseconds each (a measurable share of a booking
step's CPU). Holding strong references to the parametrisations the bot uses
makes every lookup a cache hit.
"""

from __future__ import annotations

from typing import Any

from aiogram import methods
from aiogram.methods import Response

#: The Bot API methods the booking bot and its worker call.
USED_METHODS = (
    methods.GetUpdates,
    methods.GetMe,
    methods.DeleteWebhook,
    methods.SendMessage,
    methods.EditMessageText,
    methods.EditMessageReplyMarkup,
    methods.DeleteMessage,
    methods.AnswerCallbackQuery,
    methods.SendDocument,
)

_KEEP: list[Any] = []


def pin_response_models() -> None:
    """Build the ``Response[...]`` models once and keep them referenced for the process's life."""
    if not _KEEP:
        _KEEP.extend(Response[method.__returning__] for method in USED_METHODS)  # type: ignore[name-defined]
