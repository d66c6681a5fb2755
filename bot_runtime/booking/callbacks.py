"""Callback data of every inline button, as aiogram ``CallbackData`` factories.

Why typed factories: Telegram gives 64 bytes per button and delivers whatever
an old message still carries; parsing through these classes rejects foreign
or malformed data, and the short prefixes keep even "slot" buttons (epoch
minutes) far under the limit. Buttons whose data no longer matches any
handler's state land in the fallback router, which answers "out of date".
"""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class BookCb(CallbackData, prefix="bk"):
    """A step of the booking flow: ``act`` is svc/next/m/mon/day/slot/ok/back/x/noop, ``v`` its value."""

    act: str
    v: str = ""


class MyCb(CallbackData, prefix="my"):
    """A client's own booking: ``act`` is list/open/cancel/cancel_yes/move on booking ``id``."""

    act: str
    id: int = 0


class RateCb(CallbackData, prefix="rt"):
    """The client's rating of a past visit, 1-5 stars."""

    id: int
    stars: int


class AdminCb(CallbackData, prefix="ad"):
    """An owner's panel action ``act`` with an optional value ``v`` (an id, a date, a field)."""

    act: str
    v: str = ""


class LangCb(CallbackData, prefix="lang"):
    """The language switch."""

    code: str
