"""Where a buyer is in the conversation (kept in Redis by aiogram's RedisStorage, so a restart loses nothing).

The FSM data holds only the order id; everything the buyer chose is in the order row in PostgreSQL,
and the bot token is in neither (see ``tokens``).
"""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class Buy(StatesGroup):
    """The steps of one purchase after the tariff was picked."""

    bot = State()  # waiting for the one-tap bot (or the choice to paste a token)
    token = State()  # waiting for a pasted BotFather token
    company = State()  # waiting for the company name
    timezone = State()  # waiting for a time zone (button or typed IANA name)
    confirm = State()  # summary shown; waiting for "pay" (or the payment)
