"""Fixtures of the Telegram stand-in tests: the control client, and fresh bots with an aiogram ``Bot`` each."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiogram import Bot

from devstack.standins.telegram.client import BotInfo, TelegramControl
from tests.fixtures.telegram import TelegramStandin
from tests.standins.telegram.helpers import unique_username


@pytest.fixture
def control(telegram_standin: TelegramStandin) -> TelegramControl:
    """The control client of the session's stand-in."""
    return telegram_standin.control


@pytest_asyncio.fixture
async def tg(telegram_standin: TelegramStandin) -> AsyncIterator[tuple[BotInfo, Bot]]:
    """A freshly registered bot and an aiogram ``Bot`` pointed at the stand-in, closed afterwards."""
    info = await telegram_standin.control.create_bot(unique_username("t"))
    bot = telegram_standin.make_bot(info)
    try:
        yield info, bot
    finally:
        await bot.session.close()


@pytest_asyncio.fixture
async def manager(telegram_standin: TelegramStandin) -> AsyncIterator[tuple[BotInfo, Bot]]:
    """A bot with bot management enabled (BotFather's switch) and an aiogram ``Bot`` for it."""
    info = await telegram_standin.control.create_bot(unique_username("mgr"), can_manage_bots=True)
    bot = telegram_standin.make_bot(info)
    try:
        yield info, bot
    finally:
        await bot.session.close()
