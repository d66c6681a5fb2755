"""Callback data of the sales bot's inline buttons, as typed aiogram factories with an Enum action.

Telegram delivers whatever an old message still carries, and anyone can forge callback data; parsing
through these classes rejects foreign or malformed data (it lands in the fallback router, which answers
"out of date"), and every handler checks the order a button names against the buyer's own order.
"""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData


class Act(enum.StrEnum):
    """What a button does."""

    TARIFF = "t"  # v: tariff code
    TZ = "z"  # v: index into the offered time zones
    PAY = "p"  # v: order id
    CANCEL = "c"  # v: order id
    RESTART = "r"  # v: "" (start a new purchase after a canceled one)
    CONTINUE = "n"  # v: order id (continue an unpaid order)
    RENEW = "w"  # v: tenant id (renew its subscription: choose a period)
    RENEW_TARIFF = "x"  # v: "<tariff code>|<tenant id>" (renew with this tariff)


class SaleCb(CallbackData, prefix="s"):
    """One button: the action and its value (at most ~30 bytes, far under Telegram's 64)."""

    act: Act
    v: str = ""
