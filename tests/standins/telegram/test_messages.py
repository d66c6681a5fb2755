"""Messages in a chat: what a bot may send and edit, what the user sees, and buttons pressed and answered.

Errors are checked as aiogram raises them (Telegram's status and words); the chat is read back through
the control API, with edits and deletions applied, and a real ``Dispatcher`` runs a small bot end to end.
"""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.filters import CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from devstack.standins.telegram.client import BotInfo, ControlApiError, TelegramControl
from tests.standins.telegram.helpers import new_user, polling

pytestmark = pytest.mark.timeout(60)


async def test_rate_limit_raises_retry_after(tg: tuple[BotInfo, Bot], control: TelegramControl) -> None:
    """Above the configured per-chat rate, sends get 429 with ``retry_after`` (TelegramRetryAfter)."""
    info, bot = tg
    user = new_user()
    await control.send_message(info, user, "hi")
    await control.set_rate_limit(2, window=30.0, bot=info)
    try:
        await bot.send_message(user.id, "1")
        await bot.send_message(user.id, "2")
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.send_message(user.id, "3")
        assert 1 <= caught.value.retry_after <= 30
    finally:
        await control.set_rate_limit(None, bot=info)
    await bot.send_message(user.id, "after the limit is lifted")


async def test_sending_and_editing_errors_match_telegram(tg: tuple[BotInfo, Bot], control: TelegramControl) -> None:
    """Too long, empty, unknown chat, unchanged edit, missing message, bad markup: Telegram's 400s."""
    info, bot = tg
    user = new_user()
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(user.id, "nobody wrote to me yet")
    await control.send_message(info, user, "hi")

    assert len((await bot.send_message(user.id, "x" * 4096)).text or "") == 4096
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(user.id, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(user.id, "")
    too_long_data = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="d" * 65)]])
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(user.id, "x", reply_markup=too_long_data)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(user.id, "Price 10.5", parse_mode="MarkdownV2")
    escaped = await bot.send_message(user.id, r"*Price* 10\.5", parse_mode="MarkdownV2")
    assert escaped.text == "Price 10.5"
    assert escaped.entities is not None
    assert escaped.entities[0].type == "bold"

    sent = await bot.send_message(user.id, "original")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(chat_id=user.id, message_id=sent.message_id, text="original")
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(chat_id=user.id, message_id=sent.message_id + 1000, text="x")
    assert await bot.delete_message(user.id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(chat_id=user.id, message_id=sent.message_id, text="ghost")
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("424242")


async def test_control_api_reflects_edits_deletions_and_the_event_log(
    tg: tuple[BotInfo, Bot], control: TelegramControl
) -> None:
    """The control view shows each message's current state and the ordered history of what happened."""
    info, bot = tg
    user = new_user()
    await control.send_message(info, user, "hi")
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]])
    first = await bot.send_message(user.id, "<b>Menu</b>", parse_mode="HTML", reply_markup=keyboard)
    assert first.text == "Menu"
    assert first.entities is not None
    assert first.entities[0].type == "bold"
    edited = await bot.edit_message_text(chat_id=user.id, message_id=first.message_id, text="Menu v2")
    assert isinstance(edited, Message)
    assert edited.edit_date is not None
    second = await bot.send_message(user.id, "temporary")
    await bot.delete_message(user.id, second.message_id)

    messages = await control.messages(info, user.id)
    assert [(m["message_id"], m["text"], m["deleted"]) for m in messages] == [
        (first.message_id, "Menu v2", False),
        (second.message_id, "temporary", True),
    ]
    assert messages[0]["reply_markup"] is None  # editMessageText without reply_markup drops the keyboard
    kinds = [e["kind"] for e in await control.events(info, user.id)]
    assert kinds == ["user_message", "send", "edit_text", "send", "delete"]
    found = await control.wait_for_message(info, user.id, contains="v2", timeout=1)
    assert found["message_id"] == first.message_id
    with pytest.raises(TimeoutError):
        await control.wait_for_message(info, user.id, contains="never sent", timeout=0.5)


async def test_stale_buttons_are_refused_unless_forced(tg: tuple[BotInfo, Bot], control: TelegramControl) -> None:
    """Pressing a button that is not on the message is refused; ``force`` delivers it anyway."""
    info, bot = tg
    user = new_user()
    await control.send_message(info, user, "hi")
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Old", callback_data="old")]])
    sent = await bot.send_message(user.id, "pick", reply_markup=keyboard)
    await bot.edit_message_reply_markup(chat_id=user.id, message_id=sent.message_id, reply_markup=None)
    with pytest.raises(ControlApiError) as refused:
        await control.press_button(info, user, sent.message_id, "old")
    assert refused.value.status == 409
    callback_id = await control.press_button(info, user, sent.message_id, "old", force=True)
    updates = await bot.get_updates()
    query = updates[-1].callback_query
    assert query is not None
    assert query.id == callback_id
    assert query.data == "old"
    assert query.chat_instance
    assert query.from_user.id == user.id
    assert query.message is not None
    assert query.message.message_id == sent.message_id


async def test_dispatcher_end_to_end_echo_buttons_and_callback_answers(
    tg: tuple[BotInfo, Bot], control: TelegramControl
) -> None:
    """A real Dispatcher polling the stand-in: /start shows a button, the press is answered and edits."""
    info, bot = tg
    user = new_user()
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        button = InlineKeyboardButton(text="Book 10:00", callback_data="slot:10")
        await message.answer("Pick a slot", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]))

    @dp.callback_query(F.data.startswith("slot:"))
    async def picked(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        assert query.data is not None
        await query.answer("Booked")
        await query.message.edit_text(f"Booked {query.data.removeprefix('slot:')}:00")

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    async with polling(dp, bot):
        await control.wait_until_polling(info, timeout=10)
        sent = await control.send_message(info, user, "/start")
        menu = await control.wait_for_message(
            info, user.id, contains="Pick a slot", after_message_id=sent["message_id"]
        )
        assert menu["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "slot:10"

        callback_id = await control.press_button(info, user, menu["message_id"], "slot:10")
        answered = await control.wait_for_callback_answer(info, callback_id, timeout=10)
        assert answered["answer"]["text"] == "Booked"
        edited = await control.wait_for_message(info, user.id, contains="Booked 10:00")
        assert edited["message_id"] == menu["message_id"]
        assert edited["edit_date"] is not None
        assert [a["callback_query_id"] for a in await control.callback_answers(info)] == [callback_id]

        hello = await control.send_message(info, user, "hello there")
        echo_reply = await control.wait_for_message(info, user.id, contains="echo: hello there")
        assert echo_reply["message_id"] > hello["message_id"]


async def test_a_pasted_token_message_is_deleted(tg: tuple[BotInfo, Bot], control: TelegramControl) -> None:
    """The bot deletes the user's message that carried a token; a test waits for that deletion, and a
    second delete fails like on Telegram."""
    info, bot = tg
    user = new_user()
    pasted = await control.send_message(info, user, "123456789:AAEhBOweik6ad9r_QXMENQjcrGbqCr4K-ZE")
    deleted_view = asyncio.create_task(control.wait_for_deletion(info, user.id, pasted["message_id"], timeout=10))
    updates = await bot.get_updates()
    message = updates[-1].message
    assert message is not None
    assert message.message_id == pasted["message_id"]
    assert not deleted_view.done()
    assert await bot.delete_message(user.id, message.message_id) is True
    view = await asyncio.wait_for(deleted_view, timeout=5)
    assert view["deleted"] is True
    assert view["from_bot"] is False
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(user.id, message.message_id)
    kept = await control.send_message(info, user, "not a token")
    with pytest.raises(TimeoutError):
        await control.wait_for_deletion(info, user.id, kept["message_id"], timeout=0.5)
    with pytest.raises(ControlApiError) as missing:
        await control.wait_for_deletion(info, user.id, 10_000, timeout=0.5)
    assert missing.value.status == 404
