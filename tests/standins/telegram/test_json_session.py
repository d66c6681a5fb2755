"""Our Bot API session (JSON bodies, botpool/botapi.py) sends exactly what aiogram's form session sends.

Every bot of ours talks through ``botpool.botapi.JsonSession``; these check, against the stand-in, that
the messages a user sees are the same whichever encoding carried them: text, HTML parse mode from the
bot's defaults, inline and reply keyboards, edits and callback answers.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from botpool import botapi
from devstack.standins.telegram.client import TelegramControl
from tests.fixtures.telegram import TelegramStandin
from tests.standins.telegram.helpers import new_user, unique_username

pytestmark = pytest.mark.timeout(60)

INLINE = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="Стрижка · 1500 ₽", callback_data="svc:1"),
            InlineKeyboardButton(text="«", callback_data="back"),
        ],
        [InlineKeyboardButton(text="Site", url="https://example.org/a?b=c&d=e")],
    ]
)
REPLY = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="📅 Записаться")]], resize_keyboard=True)


async def conversation(bot: Bot, chat_id: int) -> None:
    """What a booking step does: a message with HTML and a keyboard, a second one, an edit."""
    first = await bot.send_message(chat_id, "<b>Выберите</b> услугу & время", reply_markup=INLINE)
    await bot.send_message(chat_id, "Меню", reply_markup=REPLY, disable_notification=False)
    await bot.edit_message_text("<i>Изменено</i> 0", chat_id=chat_id, message_id=first.message_id, reply_markup=INLINE)


def seen(messages: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """What the user sees of each message: its text, its formatting and its keyboard."""
    return [(m.get("text"), m.get("entities"), m.get("reply_markup")) for m in messages]


async def test_json_bodies_deliver_what_forms_deliver(
    telegram_standin: TelegramStandin, control: TelegramControl
) -> None:
    html = DefaultBotProperties(parse_mode="HTML")
    results = []
    for session in (
        AiohttpSession(api=TelegramAPIServer.from_base(telegram_standin.base_url)),
        botapi.session(telegram_standin.base_url),
    ):
        info = await control.create_bot(unique_username("enc"))
        user = new_user()
        await control.send_message(info, user, "/start")  # the chat must exist before the bot writes
        bot = Bot(info.token, session=session, default=html)
        try:
            await conversation(bot, user.id)
            assert (await bot.get_me()).username == info.username
        finally:
            await bot.session.close()
        results.append(seen(await control.messages(info, user.id)))
    form, json_body = results
    assert json_body == form
    assert json_body[0][0] == "Изменено 0" and json_body[0][2]["inline_keyboard"][1][0]["url"].endswith("&d=e")
