"""The Telegram stand-in speaks the Bot API's wire format: tokens, ``getMe``, encodings, commands.

Like every test in this package, these drive the stand-in subprocess over HTTP the way a production bot
would (aiogram ``Bot`` with a custom ``TelegramAPIServer``) and play users through the control API.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BotCommand, User

from devstack.standins.telegram.client import BotInfo, TelegramControl
from tests.fixtures.telegram import TelegramStandin
from tests.standins.telegram.helpers import new_user, unique_username

pytestmark = pytest.mark.timeout(60)


async def test_created_token_has_telegram_shape_and_create_is_idempotent(control: TelegramControl) -> None:
    """Generated tokens look like real ones, embed the bot id, and re-creating by username is a no-op."""
    username = unique_username("shape")
    info = await control.create_bot(username)
    assert re.fullmatch(r"\d+:[A-Za-z0-9_-]{35}", info.token)
    assert info.token.split(":")[0] == str(info.id)
    assert info.username == username
    assert await control.create_bot(username) == info


async def test_get_me_validates_into_aiogram_user(tg: tuple[BotInfo, Bot]) -> None:
    """``getMe`` returns a bot ``User`` with the getMe-only capability fields."""
    info, bot = tg
    me = await bot.get_me()
    assert isinstance(me, User)
    assert me.is_bot is True
    assert me.id == info.id == bot.id
    assert me.username == info.username
    assert me.first_name
    assert me.can_join_groups is not None
    assert me.can_read_all_group_messages is not None
    assert me.supports_inline_queries is not None


async def test_every_request_encoding_is_understood(
    telegram_standin: TelegramStandin, control: TelegramControl
) -> None:
    """Query string, JSON body, urlencoded and multipart forms all reach the same method semantics."""
    info = await control.create_bot(unique_username("enc"))
    user = new_user()
    await control.send_message(info, user, "hi")
    url = f"{telegram_standin.base_url}/bot{info.token}"
    markup = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    async with httpx.AsyncClient(timeout=10) as http:
        by_query = (await http.get(f"{url}/getMe")).json()
        by_json = (
            await http.post(f"{url}/sendMessage", json={"chat_id": user.id, "text": "j", "reply_markup": markup})
        ).json()
        by_form = (
            await http.post(
                f"{url}/sendMessage", data={"chat_id": str(user.id), "text": "f", "reply_markup": json.dumps(markup)}
            )
        ).json()
        by_multipart = (
            await http.post(
                f"{url}/sendMessage",
                data={"chat_id": str(user.id), "text": "m"},
                files={"unused": ("x.txt", b"x")},
            )
        ).json()
        unknown = await http.post(f"{url}/noSuchMethod")
    assert by_query["ok"] is True
    assert by_query["result"]["is_bot"] is True
    assert by_json["ok"] is True
    assert by_json["result"]["reply_markup"] == markup
    assert by_form["ok"] is True
    assert by_form["result"]["reply_markup"] == markup
    assert by_multipart["ok"] is True
    assert by_multipart["result"]["text"] == "m"
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}


async def test_commands_round_trip(tg: tuple[BotInfo, Bot]) -> None:
    """setMyCommands / getMyCommands / deleteMyCommands store commands per scope and language."""
    _, bot = tg
    commands = [BotCommand(command="start", description="Start"), BotCommand(command="book", description="Book")]
    assert await bot.set_my_commands(commands)
    assert [(c.command, c.description) for c in await bot.get_my_commands()] == [("start", "Start"), ("book", "Book")]
    assert await bot.get_my_commands(language_code="en") == []
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])
