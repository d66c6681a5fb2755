"""Webhook delivery: updates POSTed with the secret, redelivered after a failure, and reply methods run.

The receivers are real HTTP servers in the test, one of them aiogram's own ``SimpleRequestHandler``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.types import Message
from aiohttp import web

from devstack.standins.telegram.client import BotInfo, TelegramControl
from tests.standins.telegram.helpers import new_user, serving

pytestmark = pytest.mark.timeout(60)


async def test_webhook_delivery_with_secret_retry_and_reply_method(
    tg: tuple[BotInfo, Bot], control: TelegramControl
) -> None:
    """Updates are POSTed with the secret header, redelivered after a failure, and a method in the
    webhook's answer is executed, as Telegram does."""
    info, bot = tg
    user = new_user()
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
    async with serving(app) as port:
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


async def test_aiogram_webhook_handler_end_to_end(tg: tuple[BotInfo, Bot], control: TelegramControl) -> None:
    """aiogram's own SimpleRequestHandler checks the secret and answers in its webhook reply (multipart),
    which the stand-in executes as the bot's sendMessage."""
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler

    info, bot = tg
    user = new_user()
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> Any:
        return message.answer(f"webhook echo: {message.text}")

    app = web.Application()
    SimpleRequestHandler(dp, bot, handle_in_background=False, secret_token="hook-secret").register(app, "/tg")
    async with serving(app) as port:
        try:
            await bot.set_webhook(f"http://127.0.0.1:{port}/tg", secret_token="hook-secret")
            sent = await control.send_message(info, user, "ping")
            reply = await control.wait_for_message(
                info, user.id, contains="webhook echo: ping", after_message_id=sent["message_id"]
            )
            assert reply["from_bot"] is True
            # The reply form's parts carry their charset: non-ASCII text arrives intact.
            sent = await control.send_message(info, user, "Запись на 10:00")
            reply = await control.wait_for_message(
                info, user.id, contains="webhook echo: Запись на 10:00", after_message_id=sent["message_id"]
            )
            assert reply["text"] == "webhook echo: Запись на 10:00"
        finally:
            await bot.delete_webhook()
