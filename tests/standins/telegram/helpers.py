"""Helpers shared by the Telegram stand-in tests: fresh names and users, running bots and webhook receivers.

Tests share one stand-in per session, so each creates its own bots and users with unique names.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

from aiogram import Bot, Dispatcher
from aiogram.types import KeyboardButton, KeyboardButtonRequestManagedBot, ReplyKeyboardMarkup
from aiohttp import web

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


@contextlib.asynccontextmanager
async def polling(dp: Dispatcher, bot: Bot) -> AsyncIterator[None]:
    """Run ``dp`` long-polling the stand-in for ``bot`` inside the block, and stop it afterwards."""
    task = asyncio.create_task(dp.start_polling(bot, polling_timeout=5, handle_signals=False, close_bot_session=False))
    try:
        yield
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(task, timeout=10)


@contextlib.asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[int]:
    """Serve ``app`` on a free loopback port (a webhook receiver) inside the block; yields the port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()
