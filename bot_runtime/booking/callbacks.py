"""Callback data of every inline button, as aiogram ``CallbackData`` factories with enum actions.

Why typed factories: Telegram gives 64 bytes per button and delivers whatever
an old message still carries; parsing through these classes rejects foreign
or malformed data, and the short prefixes keep even "slot" buttons (epoch
minutes) far under the limit. Buttons whose data no longer matches any
handler's state land in the fallback router, which answers "out of date".

Why enums: an action is named once here, so a typo in a handler filter or a
button is a type error (mypy) instead of a button that is always "out of
date". The values are the short codes of old messages, so buttons already
sent keep working and the packed data stays short.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class BookAct(StrEnum):
    """A step of the booking flow."""

    SERVICE = "svc"
    NEXT = "next"
    MASTER = "m"
    MONTH = "mon"
    DAY = "day"
    SLOT = "slot"
    OK = "ok"
    BACK = "back"
    ABORT = "x"
    NOOP = "noop"


class MyAct(StrEnum):
    """What a client does with one of their bookings."""

    LIST = "list"
    OPEN = "open"
    CANCEL = "cancel"
    CANCEL_YES = "cancel_yes"
    MOVE = "move"


class AdminAct(StrEnum):
    """A button of the owner's panel."""

    MENU = "menu"
    CLOSE = "close"
    # schedule and bookings
    DAY = "day"
    WEEK = "week"
    BOOKING = "bk"
    BOOKING_NEW_MESSAGE = "bkn"
    NO_SHOW = "noshow"
    CANCEL = "acancel"
    CANCEL_YES = "acancel_yes"
    MOVE = "amove"
    BOOK = "book"
    PENDING = "pend"
    APPROVE = "appr"
    DECLINE = "decl"
    # clients
    CLIENTS = "cls"
    CLIENT = "cl"
    CLIENT_BLACKLIST = "cl_black"
    CLIENT_PHONE = "cl_phone"
    CLIENT_NOTES = "cl_notes"
    # broadcast, analytics, admins
    BROADCAST = "bc"
    BROADCAST_SEND = "bc_send"
    STATS = "stats"
    EXPORT = "csv"
    ADMINS = "adm"
    ADMIN_ADD = "adm_add"
    ADMIN_DELETE = "adm_del"
    # settings
    SETTINGS = "set"
    SETTING_AUTO = "set_auto"
    SETTING_FIELD = "set_f"
    # services
    SERVICES = "svcs"
    SERVICE = "svc"
    SERVICE_TOGGLE = "svc_tog"
    SERVICE_ADD = "svc_add"
    SERVICE_FIELD = "svc_f"
    # masters
    MASTERS = "ms"
    MASTER = "m"
    MASTER_ADD = "m_add"
    MASTER_RENAME = "m_ren"
    MASTER_TOGGLE = "m_tog"
    MASTER_SERVICES = "m_svcs"
    MASTER_SERVICE = "m_svc"
    MASTER_HOURS = "m_hours"
    MASTER_BREAKS = "m_breaks"
    MASTER_DAYS_OFF = "m_off"
    # blocks and days off
    BLOCKS = "blocks"
    BLOCK = "blk"
    TIME_OFF_DELETE = "off_del"


class BookCb(CallbackData, prefix="bk"):
    """A step of the booking flow: ``act`` with its value ``v`` (a service id, a day, a slot...)."""

    act: BookAct
    v: str = ""


class MyCb(CallbackData, prefix="my"):
    """A client's own booking: ``act`` on booking ``id``."""

    act: MyAct
    id: int = 0


class RateCb(CallbackData, prefix="rt"):
    """The client's rating of a past visit, 1-5 stars."""

    id: int
    stars: int


class AdminCb(CallbackData, prefix="ad"):
    """An owner's panel action ``act`` with an optional value ``v`` (an id, a date, a field)."""

    act: AdminAct
    v: str = ""


class LangCb(CallbackData, prefix="lang"):
    """The language switch."""

    code: str
