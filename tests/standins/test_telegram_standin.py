"""The Telegram stand-in checked against the Bot API's documented shapes and behaviour, with real aiogram.

Every test drives the stand-in subprocess over HTTP the way a production bot would (aiogram ``Bot`` with
a custom ``TelegramAPIServer``, and a ``Dispatcher`` polling it), and plays users through the control API.
Assertions are about observable behaviour: what aiogram parses, which exceptions it raises, how long a
long poll holds, what a webhook receiver gets.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    KeyboardButtonRequestManagedBot,
    ManagedBotUpdated,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    User,
)
from aiohttp import web

from devstack.standins.telegram.client import (
    BotInfo,
    ControlApiError,
    CreatedManagedBot,
    TelegramControl,
    TgUser,
)
from tests.fixtures.telegram import TelegramStandin

pytestmark = pytest.mark.timeout(60)


def _unique(prefix: str) -> str:
    """Return a bot username no other test uses, so tests sharing one stand-in stay isolated."""
    return f"{prefix}_{secrets.token_hex(4)}_bot"


def _user() -> TgUser:
    """Return a fresh user; private chat ids equal user ids."""
    return TgUser(id=100_000 + secrets.randbelow(900_000_000), first_name="Anna", username="anna_test")


@pytest.fixture
def control(telegram_standin: TelegramStandin) -> TelegramControl:
    """The control client of the session's stand-in."""
    return telegram_standin.control


@pytest_asyncio.fixture
async def tg(telegram_standin: TelegramStandin) -> AsyncIterator[tuple[BotInfo, Bot]]:
    """A freshly registered bot and an aiogram ``Bot`` pointed at the stand-in, closed afterwards."""
    info = await telegram_standin.control.create_bot(_unique("t"))
    bot = telegram_standin.make_bot(info)
    try:
        yield info, bot
    finally:
        await bot.session.close()


async def test_created_token_has_telegram_shape_and_create_is_idempotent(control: TelegramControl) -> None:
    """Generated tokens look like real ones, embed the bot id, and re-creating by username is a no-op."""
    username = _unique("shape")
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
    info = await control.create_bot(_unique("enc"))
    user = _user()
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
    user = _user()
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
    user = _user()
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
    info = await control.create_bot(_unique("revoke"))
    rotated_from = await control.create_bot(_unique("rotate"))
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


async def test_rate_limit_raises_retry_after(tg: tuple[BotInfo, Bot], control: TelegramControl) -> None:
    """Above the configured per-chat rate, sends get 429 with ``retry_after`` (TelegramRetryAfter)."""
    info, bot = tg
    user = _user()
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
    user = _user()
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
    user = _user()
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
    user = _user()
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
    user = _user()
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

    polling = asyncio.create_task(
        dp.start_polling(bot, polling_timeout=5, handle_signals=False, close_bot_session=False)
    )
    try:
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
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, timeout=10)


async def test_webhook_delivery_with_secret_retry_and_reply_method(
    tg: tuple[BotInfo, Bot], control: TelegramControl
) -> None:
    """Updates are POSTed with the secret header, redelivered after a failure, and a method in the
    webhook's answer is executed, as Telegram does."""
    info, bot = tg
    user = _user()
    received: asyncio.Queue[tuple[str | None, dict[str, Any]]] = asyncio.Queue()
    failures_left = 1

    async def hook(request: web.Request) -> web.Response:
        nonlocal failures_left
        await received.put((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        if failures_left:
            failures_left -= 1
            return web.Response(status=500)
        reply = {"method": "sendMessage", "chat_id": user.id, "text": "answered from the webhook"}
        return web.json_response(reply)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret-Token_1")
        await control.send_message(info, user, "/start")
        secret1, first = await asyncio.wait_for(received.get(), timeout=10)
        secret2, second = await asyncio.wait_for(received.get(), timeout=10)
        assert secret1 == secret2 == "s3cret-Token_1"
        assert first == second
        assert first["message"]["text"] == "/start"
        reply = await control.wait_for_message(info, user.id, contains="answered from the webhook")
        assert reply["from_bot"] is True
        webhook_info = await bot.get_webhook_info()
        assert webhook_info.url.endswith("/hook")
        assert webhook_info.last_error_message is not None
        assert "500" in webhook_info.last_error_message
    finally:
        await bot.delete_webhook()
        await runner.cleanup()


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


async def test_aiogram_webhook_handler_end_to_end(tg: tuple[BotInfo, Bot], control: TelegramControl) -> None:
    """aiogram's own SimpleRequestHandler checks the secret and answers in its webhook reply (multipart),
    which the stand-in executes as the bot's sendMessage."""
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler

    info, bot = tg
    user = _user()
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> Any:
        return message.answer(f"webhook echo: {message.text}")

    app = web.Application()
    SimpleRequestHandler(dp, bot, handle_in_background=False, secret_token="hook-secret").register(app, "/tg")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/tg", secret_token="hook-secret")
        sent = await control.send_message(info, user, "ping")
        reply = await control.wait_for_message(
            info, user.id, contains="webhook echo: ping", after_message_id=sent["message_id"]
        )
        assert reply["from_bot"] is True
    finally:
        await bot.delete_webhook()
        await runner.cleanup()


# ------------------------------------------------------------------------------------------ managed bots


def _managed_bot_keyboard(
    request_id: int = 7, *, suggested_username: str | None = None, one_time: bool = False
) -> ReplyKeyboardMarkup:
    """The reply keyboard a sales bot shows: one button that creates a bot managed by it."""
    request = KeyboardButtonRequestManagedBot(
        request_id=request_id, suggested_name="Salon Anna", suggested_username=suggested_username
    )
    button = KeyboardButton(text="Create my bot", request_managed_bot=request)
    return ReplyKeyboardMarkup(keyboard=[[button]], resize_keyboard=True, one_time_keyboard=one_time)


@pytest_asyncio.fixture
async def manager(telegram_standin: TelegramStandin) -> AsyncIterator[tuple[BotInfo, Bot]]:
    """A bot with bot management enabled (BotFather's switch) and an aiogram ``Bot`` for it."""
    info = await telegram_standin.control.create_bot(_unique("mgr"), can_manage_bots=True)
    bot = telegram_standin.make_bot(info)
    try:
        yield info, bot
    finally:
        await bot.session.close()


async def _drain(bot: Bot) -> int:
    """Confirm every pending update of ``bot`` and return the offset that follows them."""
    pending = await bot.get_updates()
    offset = pending[-1].update_id + 1
    await bot.get_updates(offset=offset)
    return offset


async def _show_keyboard(
    control: TelegramControl, info: BotInfo, bot: Bot, user: TgUser, keyboard: ReplyKeyboardMarkup
) -> None:
    """Let ``user`` open the chat and the bot answer with ``keyboard``, as after /start."""
    await control.send_message(info, user, "/start")
    await bot.send_message(user.id, "Create your bot in one tap", reply_markup=keyboard)


async def test_managed_bot_one_tap_end_to_end_with_a_dispatcher(
    telegram_standin: TelegramStandin, manager: tuple[BotInfo, Bot], control: TelegramControl
) -> None:
    """The sales-bot flow: the keyboard is shown, the user taps it, the manager gets the ``managed_bot``
    update and then the ``managed_bot_created`` message, fetches the token, and the new bot works."""
    info, bot = manager
    user = _user()
    username = _unique("salon")
    dp = Dispatcher()
    seen: list[str] = []
    token: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Create your bot in one tap", reply_markup=_managed_bot_keyboard(one_time=True))

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

    polling = asyncio.create_task(
        dp.start_polling(bot, polling_timeout=5, handle_signals=False, close_bot_session=False)
    )
    try:
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
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, timeout=10)


async def test_managed_bot_update_and_message_have_the_bot_api_shape(
    telegram_standin: TelegramStandin, manager: tuple[BotInfo, Bot], control: TelegramControl
) -> None:
    """On the wire: a ``managed_bot`` update with ``user`` and ``bot``, then a service message from the
    user with ``managed_bot_created.bot``, no text; the button's suggestions pre-fill the new bot."""
    info, bot = manager
    user = _user()
    suggested = _unique("sugg")
    await _show_keyboard(control, info, bot, user, _managed_bot_keyboard(suggested_username=suggested))
    confirm_from = await _drain(bot)
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
    user = _user()
    await _show_keyboard(control, info, bot, user, _managed_bot_keyboard())
    new = await control.create_managed_bot(info, user, username=_unique("own"))
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
    held = asyncio.create_task(old.get_updates(offset=await _drain(old), timeout=10))
    try:
        await control.wait_until_polling(new, timeout=5)
        await _drain(bot)  # forget the creation updates
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
    user = _user()
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

    await _show_keyboard(control, plain_info, plain_bot, user, _managed_bot_keyboard())
    with pytest.raises(ControlApiError) as not_enabled:
        await control.create_managed_bot(plain_info, user)
    assert not_enabled.value.status == 409
    assert "bot management" in not_enabled.value.message


async def test_a_pasted_token_message_is_deleted(tg: tuple[BotInfo, Bot], control: TelegramControl) -> None:
    """The bot deletes the user's message that carried a token; a test waits for that deletion, and a
    second delete fails like on Telegram."""
    info, bot = tg
    user = _user()
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


async def test_the_log_is_structured_and_carries_no_token(
    telegram_standin: TelegramStandin, manager: tuple[BotInfo, Bot], control: TelegramControl
) -> None:
    """The stand-in logs JSON lines through botpool.logs and never writes a token, not even while
    creating managed bots and replacing their tokens."""
    info, bot = manager
    user = _user()
    await _show_keyboard(control, info, bot, user, _managed_bot_keyboard())
    new = await control.create_managed_bot(info, user, username=_unique("logged"))
    first = await bot.get_managed_bot_token(user_id=new.id)
    second = await bot.replace_managed_bot_token(user_id=new.id)
    lines = telegram_standin.log_path.read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(r["event"] == "managed bot created" and r["bot_id"] == new.id for r in records)
    assert any(r["event"] == "managed bot token replaced" and r["bot_id"] == new.id for r in records)
    text = "\n".join(lines)
    for token in (info.token, first, second):
        assert token.split(":")[1] not in text
