"""Managed bots: a user creates a bot through a manager bot's ``request_managed_bot`` button.

This is the flow the sales bot is built on: the keyboard is shown, the user taps it, the manager gets the
``managed_bot`` update and the service message, reads the token, and may replace it; nobody else may.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import TelegramBadRequest, TelegramUnauthorizedError
from aiogram.filters import CommandStart
from aiogram.types import (
    KeyboardButton,
    KeyboardButtonRequestManagedBot,
    ManagedBotUpdated,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from devstack.standins.telegram.client import BotInfo, ControlApiError, CreatedManagedBot, TelegramControl
from tests.fixtures.telegram import TelegramStandin
from tests.standins.telegram.helpers import (
    drain,
    managed_bot_keyboard,
    new_user,
    polling,
    show_keyboard,
    unique_username,
)

pytestmark = pytest.mark.timeout(60)


async def test_managed_bot_one_tap_end_to_end_with_a_dispatcher(
    telegram_standin: TelegramStandin, manager: tuple[BotInfo, Bot], control: TelegramControl
) -> None:
    """The sales-bot flow: the keyboard is shown, the user taps it, the manager gets the ``managed_bot``
    update and then the ``managed_bot_created`` message, fetches the token, and the new bot works."""
    info, bot = manager
    user = new_user()
    username = unique_username("salon")
    dp = Dispatcher()
    seen: list[str] = []
    token: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Create your bot in one tap", reply_markup=managed_bot_keyboard(one_time=True))

    @dp.managed_bot()
    async def managed(event: ManagedBotUpdated, bot: Bot) -> None:
        seen.append(f"managed_bot:{event.user.id}:{event.bot_user.username}")
        token.set_result(await bot.get_managed_bot_token(user_id=event.bot_user.id))

    @dp.message(F.managed_bot_created)
    async def created(message: Message) -> None:
        assert message.managed_bot_created is not None
        assert message.from_user is not None
        seen.append(f"message:{message.from_user.id}:{message.managed_bot_created.bot_user.username}")
        await message.answer(f"Your bot @{message.managed_bot_created.bot_user.username} is created")

    async with polling(dp, bot):
        await control.wait_until_polling(info, timeout=10)
        sent = await control.send_message(info, user, "/start")
        await control.wait_for_message(info, user.id, contains="one tap", after_message_id=sent["message_id"])
        keyboard = await control.reply_keyboard(info, user.id)
        assert keyboard is not None
        assert keyboard["keyboard"][0][0]["request_managed_bot"] == {"request_id": 7, "suggested_name": "Salon Anna"}

        new = await control.create_managed_bot(info, user, username=username)
        assert isinstance(new, CreatedManagedBot)
        assert (new.username, new.first_name) == (username, "Salon Anna")
        assert (new.manager_id, new.owner_id) == (info.id, user.id)
        await control.wait_for_message(info, user.id, contains=f"@{username} is created")
        assert seen == [f"managed_bot:{user.id}:{username}", f"message:{user.id}:{username}"]
        assert await control.reply_keyboard(info, user.id) is None  # a one-time keyboard hides after the tap

        managed_token = await asyncio.wait_for(token, timeout=5)
        assert managed_token.split(":")[0] == str(new.id)
        new_bot = telegram_standin.make_bot(managed_token)
        try:
            me = await new_bot.get_me()
            assert (me.id, me.username, me.first_name, me.is_bot) == (new.id, username, "Salon Anna", True)
            assert me.can_manage_bots is False
        finally:
            await new_bot.session.close()
        assert (await bot.get_me()).can_manage_bots is True


async def test_managed_bot_update_and_message_have_the_bot_api_shape(
    telegram_standin: TelegramStandin, manager: tuple[BotInfo, Bot], control: TelegramControl
) -> None:
    """On the wire: a ``managed_bot`` update with ``user`` and ``bot``, then a service message from the
    user with ``managed_bot_created.bot``, no text; the button's suggestions pre-fill the new bot."""
    info, bot = manager
    user = new_user()
    suggested = unique_username("sugg")
    await show_keyboard(control, info, bot, user, managed_bot_keyboard(suggested_username=suggested))
    confirm_from = await drain(bot)
    new = await control.create_managed_bot(info, user)
    assert new.username == suggested
    assert await control.reply_keyboard(info, user.id) is not None  # not one-time: it stays
    async with httpx.AsyncClient(timeout=10) as http:
        body = (
            await http.post(f"{telegram_standin.base_url}/bot{info.token}/getUpdates", json={"offset": confirm_from})
        ).json()
    raw = [u for u in body["result"] if "managed_bot" in u or "managed_bot_created" in u.get("message", {})]
    bot_user = {"id": new.id, "is_bot": True, "first_name": "Salon Anna", "username": suggested}
    assert [u["update_id"] for u in raw] == [new.managed_bot_update_id, new.message_update_id]
    assert raw[0]["managed_bot"] == {"user": {**user.to_json(), "is_bot": False}, "bot": bot_user}
    message = raw[1]["message"]
    assert message["message_id"] == new.message_id
    assert message["from"]["id"] == user.id
    assert message["chat"] == {
        "id": user.id,
        "type": "private",
        "first_name": user.first_name,
        "username": user.username,
    }
    assert message["managed_bot_created"] == {"bot": bot_user}
    assert "text" not in message
    events = await control.events(info, user.id)
    assert events[-1]["kind"] == "managed_bot_created"
    assert events[-1]["bot_id"] == new.id


async def test_only_the_manager_gets_the_token_and_replacing_it_revokes_the_old_one(
    telegram_standin: TelegramStandin, manager: tuple[BotInfo, Bot], tg: tuple[BotInfo, Bot], control: TelegramControl
) -> None:
    """Another bot (or the managed bot itself) is refused in the Bot API's error format; after
    ``replaceManagedBotToken`` the old token gets 401 on every call, a long poll held with it included,
    the new one works, and the manager is told through a ``managed_bot`` update."""
    info, bot = manager
    _, stranger = tg
    user = new_user()
    await show_keyboard(control, info, bot, user, managed_bot_keyboard())
    new = await control.create_managed_bot(info, user, username=unique_username("own"))
    with pytest.raises(TelegramBadRequest, match="BOT_INVALID"):
        await stranger.get_managed_bot_token(user_id=new.id)
    with pytest.raises(TelegramBadRequest, match="BOT_INVALID"):
        await bot.get_managed_bot_token(user_id=stranger.id)  # a bot it does not manage
    first_token = await bot.get_managed_bot_token(user_id=new.id)
    old = telegram_standin.make_bot(first_token)
    with pytest.raises(TelegramBadRequest, match="BOT_INVALID"):
        await old.get_managed_bot_token(user_id=new.id)
    async with httpx.AsyncClient(timeout=10) as http:
        refused = await http.post(
            f"{telegram_standin.base_url}/bot{stranger.token}/getManagedBotToken", json={"user_id": new.id}
        )
    assert refused.status_code == 400
    assert refused.json() == {"ok": False, "error_code": 400, "description": "Bad Request: BOT_INVALID"}

    await control.send_message(new, user, "/start")
    held = asyncio.create_task(old.get_updates(offset=await drain(old), timeout=10))
    try:
        await control.wait_until_polling(new, timeout=5)
        await drain(bot)  # forget the creation updates
        second_token = await bot.replace_managed_bot_token(user_id=new.id)
        assert second_token != first_token
        assert second_token.split(":")[0] == str(new.id)
        with pytest.raises(TelegramUnauthorizedError):
            await asyncio.wait_for(held, timeout=5)
        with pytest.raises(TelegramUnauthorizedError):
            await old.get_me()
        with pytest.raises(TelegramUnauthorizedError):
            await old.send_message(user.id, "still here?")
        assert await bot.get_managed_bot_token(user_id=new.id) == second_token
        fresh = telegram_standin.make_bot(second_token)
        try:
            assert (await fresh.get_me()).id == new.id
            assert (await fresh.send_message(user.id, "new token works")).text == "new token works"
        finally:
            await fresh.session.close()
        told = [u.managed_bot for u in await bot.get_updates() if u.managed_bot is not None]
        assert [(m.user.id, m.bot_user.id) for m in told] == [(user.id, new.id)]
    finally:
        held.cancel()
        await asyncio.gather(held, return_exceptions=True)
        await old.session.close()


async def test_managed_bot_button_rules(
    manager: tuple[BotInfo, Bot], tg: tuple[BotInfo, Bot], control: TelegramControl
) -> None:
    """A tap needs the button on screen, bot management enabled and a free, valid username; a malformed
    button is refused by sendMessage the way Telegram refuses it."""
    info, bot = manager
    plain_info, plain_bot = tg
    user = new_user()
    await control.send_message(info, user, "/start")
    with pytest.raises(ControlApiError) as no_button:
        await control.create_managed_bot(info, user)
    assert no_button.value.status == 409

    with pytest.raises(TelegramBadRequest, match="request_id"):
        await bot.send_message(
            user.id,
            "broken",
            reply_markup={"keyboard": [[{"text": "x", "request_managed_bot": {"request_id": "seven"}}]]},  # type: ignore[arg-type]
        )
    two = ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text="A", request_managed_bot=KeyboardButtonRequestManagedBot(request_id=1))],
            [KeyboardButton(text="B", request_managed_bot=KeyboardButtonRequestManagedBot(request_id=2))],
        ]
    )
    await bot.send_message(user.id, "pick", reply_markup=two)
    with pytest.raises(ControlApiError) as ambiguous:
        await control.create_managed_bot(info, user)
    assert ambiguous.value.status == 400
    with pytest.raises(ControlApiError) as unknown_request:
        await control.create_managed_bot(info, user, request_id=3)
    assert unknown_request.value.status == 409
    for bad in ("ab", "no_suffix_here", "1starts_with_digit_bot"):
        with pytest.raises(ControlApiError) as invalid:
            await control.create_managed_bot(info, user, request_id=2, username=bad)
        assert invalid.value.status == 400
    with pytest.raises(ControlApiError) as taken:
        await control.create_managed_bot(info, user, request_id=2, username=plain_info.username)
    assert taken.value.status == 409
    created = await control.create_managed_bot(info, user, request_id=2)
    assert created.first_name == created.username  # no suggestion and no name typed: the username

    await bot.send_message(user.id, "done", reply_markup=ReplyKeyboardRemove())
    with pytest.raises(ControlApiError) as removed:
        await control.create_managed_bot(info, user, request_id=2)
    assert removed.value.status == 409

    await show_keyboard(control, plain_info, plain_bot, user, managed_bot_keyboard())
    with pytest.raises(ControlApiError) as not_enabled:
        await control.create_managed_bot(plain_info, user)
    assert not_enabled.value.status == 409
    assert "bot management" in not_enabled.value.message


async def test_the_log_is_structured_and_carries_no_token(
    telegram_standin: TelegramStandin, manager: tuple[BotInfo, Bot], control: TelegramControl
) -> None:
    """The stand-in logs JSON lines through botpool.logs and never writes a token, not even while
    creating managed bots and replacing their tokens."""
    info, bot = manager
    user = new_user()
    await show_keyboard(control, info, bot, user, managed_bot_keyboard())
    new = await control.create_managed_bot(info, user, username=unique_username("logged"))
    first = await bot.get_managed_bot_token(user_id=new.id)
    second = await bot.replace_managed_bot_token(user_id=new.id)
    lines = telegram_standin.log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(r["event"] == "managed bot created" and r["bot_id"] == new.id for r in records)
    assert any(r["event"] == "managed bot token replaced" and r["bot_id"] == new.id for r in records)
    text = "\n".join(lines)
    for token in (info.token, first, second):
        assert token.split(":")[1] not in text
