"""How updates reach a bot: the ``getUpdates`` long poll, offsets, competing pollers and revoked tokens.

Assertions are what a bot would notice: how long a long poll holds, when it wakes, which updates it
gets again, and which aiogram exception ends it.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramConflictError, TelegramUnauthorizedError

from devstack.standins.telegram.client import BotInfo, TelegramControl
from tests.fixtures.telegram import TelegramStandin
from tests.standins.telegram.helpers import new_user, unique_username

pytestmark = pytest.mark.timeout(60)


async def test_idle_long_poll_holds_for_the_timeout(tg: tuple[BotInfo, Bot]) -> None:
    """With nothing queued, getUpdates(timeout=2) holds the request about two seconds and returns []."""
    _, bot = tg
    started = time.monotonic()
    updates = await bot.get_updates(timeout=2)
    elapsed = time.monotonic() - started
    assert updates == []
    assert 1.8 <= elapsed < 4.0


async def test_long_poll_returns_as_soon_as_a_message_arrives(
    tg: tuple[BotInfo, Bot], control: TelegramControl
) -> None:
    """A getUpdates(timeout=10) already waiting wakes immediately when a user writes."""
    info, bot = tg
    user = new_user()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await control.wait_until_polling(info, timeout=5)
    started = time.monotonic()
    await control.send_message(info, user, "/start deep-link")
    updates = await asyncio.wait_for(poll, timeout=5)
    assert time.monotonic() - started < 1.5
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None
    assert message.text == "/start deep-link"
    assert message.from_user is not None
    assert message.from_user.id == user.id
    assert message.chat.id == user.id
    assert message.chat.type == "private"
    assert message.entities is not None
    assert message.entities[0].type == "bot_command"
    assert message.entities[0].offset == 0
    assert message.entities[0].length == len("/start")


async def test_offset_confirms_and_forgets_updates(tg: tuple[BotInfo, Bot], control: TelegramControl) -> None:
    """Offsets confirm older updates, negative offsets keep only the newest, ``limit`` caps the batch."""
    info, bot = tg
    user = new_user()
    for text in ("one", "two", "three"):
        await control.send_message(info, user, text)
    first = await bot.get_updates()
    ids = [u.update_id for u in first]
    assert [u.message.text for u in first if u.message] == ["one", "two", "three"]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3
    assert [u.update_id for u in await bot.get_updates(limit=1)] == ids[:1]
    assert [u.update_id for u in await bot.get_updates(offset=ids[1])] == ids[1:]
    assert await bot.get_updates(offset=ids[2] + 1) == []
    assert await bot.get_updates() == []  # confirmed updates are gone for good

    for text in ("four", "five", "six"):
        await control.send_message(info, user, text)
    newest = await bot.get_updates(offset=-1)
    assert [u.message.text for u in newest if u.message] == ["six"]
    again = await bot.get_updates()
    assert [u.update_id for u in again] == [newest[0].update_id]
    assert newest[0].update_id > ids[2]


async def test_second_poller_terminates_the_first(telegram_standin: TelegramStandin, tg: tuple[BotInfo, Bot]) -> None:
    """Two processes polling one token: the older long poll ends with 409, as on Telegram."""
    info, bot = tg
    other = telegram_standin.make_bot(info)
    try:
        first = asyncio.create_task(bot.get_updates(timeout=10))
        await telegram_standin.control.wait_until_polling(info, timeout=5)
        assert await other.get_updates(timeout=0) == []
        with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
            await asyncio.wait_for(first, timeout=5)
    finally:
        await other.session.close()


async def test_unknown_and_revoked_tokens_are_unauthorized(
    telegram_standin: TelegramStandin, control: TelegramControl
) -> None:
    """A token the stand-in never issued, or one that was revoked or rotated, gets 401."""
    stranger = telegram_standin.make_bot("123456789:" + "A" * 35)
    info = await control.create_bot(unique_username("revoke"))
    rotated_from = await control.create_bot(unique_username("rotate"))
    old = telegram_standin.make_bot(info)
    old_rotated = telegram_standin.make_bot(rotated_from)
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await stranger.get_me()
        assert (await old.get_me()).id == info.id
        await control.revoke_bot(info)
        with pytest.raises(TelegramUnauthorizedError):
            await old.get_me()
        rotated = await control.rotate_token(rotated_from)
        assert rotated.id == rotated_from.id
        assert rotated.token != rotated_from.token
        with pytest.raises(TelegramUnauthorizedError):
            await old_rotated.get_me()
        fresh = telegram_standin.make_bot(rotated)
        try:
            assert (await fresh.get_me()).id == rotated.id
        finally:
            await fresh.session.close()
    finally:
        for bot in (stranger, old, old_rotated):
            await bot.session.close()


async def test_get_updates_conflicts_while_a_webhook_is_set(tg: tuple[BotInfo, Bot]) -> None:
    """With a webhook set getUpdates is a 409 conflict; deleting the webhook restores polling."""
    _, bot = tg
    assert await bot.set_webhook("http://127.0.0.1:9/never-called")
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    info = await bot.get_webhook_info()
    assert info.url == "http://127.0.0.1:9/never-called"
    assert await bot.delete_webhook()
    assert await bot.get_updates() == []


async def test_a_photo_arrives_as_aiogram_parses_it(tg: tuple[BotInfo, Bot], control: TelegramControl) -> None:
    """A user who answers with a picture: the bot gets a message with ``photo`` sizes and the caption, no text."""
    info, bot = tg
    user = new_user()
    await control.send_photo(info, user, caption="our salon")
    updates = await bot.get_updates(timeout=2)
    message = updates[-1].message
    assert message is not None
    assert message.text is None and message.caption == "our salon"
    assert message.photo is not None and [p.width for p in message.photo] == [90, 320, 800]
    await control.send_photo(info, user)
    last = (await bot.get_updates(offset=updates[-1].update_id + 1, timeout=2))[-1].message
    assert last is not None and last.photo is not None and last.caption is None
