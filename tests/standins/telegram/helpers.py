"""Helpers shared by the Telegram stand-in tests: fresh names and users, and the managed-bot keyboard.

Tests share one stand-in per session, so each creates its own bots and users with unique names.
"""

from __future__ import annotations

import secrets

from aiogram import Bot
from aiogram.types import KeyboardButton, KeyboardButtonRequestManagedBot, ReplyKeyboardMarkup

from devstack.standins.telegram.client import BotInfo, TelegramControl, TgUser


def unique_username(prefix: str) -> str:
    """Return a bot username no other test uses, so tests sharing one stand-in stay isolated."""
    return f"{prefix}_{secrets.token_hex(4)}_bot"


def new_user() -> TgUser:
    """Return a fresh user; private chat ids equal user ids."""
    return TgUser(id=100_000 + secrets.randbelow(900_000_000), first_name="Anna", username="anna_test")


def managed_bot_keyboard(
    request_id: int = 7, *, suggested_username: str | None = None, one_time: bool = False
) -> ReplyKeyboardMarkup:
    """The reply keyboard a sales bot shows: one button that creates a bot managed by it."""
    request = KeyboardButtonRequestManagedBot(
        request_id=request_id, suggested_name="Salon Anna", suggested_username=suggested_username
    )
    button = KeyboardButton(text="Create my bot", request_managed_bot=request)
    return ReplyKeyboardMarkup(keyboard=[[button]], resize_keyboard=True, one_time_keyboard=one_time)


async def drain(bot: Bot) -> int:
    """Confirm every pending update of ``bot`` and return the offset that follows them."""
    pending = await bot.get_updates()
    offset = pending[-1].update_id + 1
    await bot.get_updates(offset=offset)
    return offset


async def show_keyboard(
    control: TelegramControl, info: BotInfo, bot: Bot, user: TgUser, keyboard: ReplyKeyboardMarkup
) -> None:
    """Let ``user`` open the chat and the bot answer with ``keyboard``, as after /start."""
    await control.send_message(info, user, "/start")
    await bot.send_message(user.id, "Create your bot in one tap", reply_markup=keyboard)
