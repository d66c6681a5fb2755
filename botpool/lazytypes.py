"""aiogram's Bot API types, each validator built when it is first used instead of all of them at import.

``import aiogram.types`` defines 446 pydantic models and then, in a loop at
the end of the package, rebuilds every one of them, so that each gets its own
compiled validator with the validators of everything it can contain copied
in (Message's, for one, lives again inside Update's, CallbackQuery's, Chat's
...). On this machine that loop is three quarters of the import (4.5 s of
CPU) and about 100 MB of every slot's 150 MB, for models a booking bot never
receives. Here the loop is skipped: the names it would have resolved are put
where pydantic looks for them, so any model still completes itself, exactly
as before, the first time it validates or serialises. ``warm`` then builds,
while the slot waits, the few a tenant's bot uses at once, so activation
never pays for them.

Written by hand because no library does it: aiogram offers no switch for the
loop (its types already set pydantic's ``defer_build``, and the loop overrides
it), and pydantic builds what it is asked to. The patch lasts only for the
import, applies only to aiogram's own types, and does nothing if aiogram's
types were imported already.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel

#: The package whose import-time rebuild loop is skipped.
PACKAGE = "aiogram.types"


def import_types() -> bool:
    """Import ``aiogram.types`` without building its validators; whether it was done that way.

    False means the types were imported before (eagerly, by aiogram's own
    loop) and nothing changed: correct, only heavier.
    """
    if PACKAGE in sys.modules:
        return False
    namespace: dict[str, Any] = {}
    original = BaseModel.__dict__["model_rebuild"]

    def deferred(cls: type[BaseModel], /, *args: Any, _types_namespace: Any = None, **kwargs: Any) -> bool | None:
        if not cls.__module__.startswith(PACKAGE + "."):
            return original.__func__(cls, *args, _types_namespace=_types_namespace, **kwargs)  # type: ignore[no-any-return]
        namespace.update(_types_namespace or {})
        return None

    BaseModel.model_rebuild = classmethod(deferred)  # type: ignore[method-assign,assignment]
    try:
        import aiogram.types
    finally:
        BaseModel.model_rebuild = original  # type: ignore[method-assign]
    # The loop resolved the names each type module imports only for type checkers (Message in
    # update.py, ...); given to every type module, pydantic resolves them itself on first use.
    for name in aiogram.types.__all__:
        module = sys.modules[getattr(aiogram.types, name).__module__]
        for key, value in namespace.items():
            module.__dict__.setdefault(key, value)
    return True


def warm() -> None:
    """Build the validators a tenant's booking bot needs first, so activation does not.

    Update is every incoming update, Message and User the answers of its most frequent Bot API
    calls (the booking bot pins the ``Response[...]`` models around them when its dispatcher is
    built: ``bot_runtime.booking.perf``), and keyboards go with nearly every answer. Anything rarer
    completes itself on first use, in milliseconds.
    """
    from aiogram import types

    for model in (
        types.Update, types.Message, types.User,  # every update, most answers
        # What a bot builds for nearly every answer: keyboards.
        types.InlineKeyboardMarkup, types.InlineKeyboardButton, types.ReplyKeyboardMarkup, types.KeyboardButton,
        types.ReplyKeyboardRemove,
    ):
        model.model_rebuild()
