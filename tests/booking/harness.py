"""Drive the real booking bot through the Telegram stand-in, the way users do.

A ``TenantBot`` runs ``create_dispatcher(...)`` with ``start_polling`` against
the stand-in (real HTTP, real aiogram, real PostgreSQL and Redis) and can be
stopped and started again like a bot moved to another slot. A ``Person``
types text and presses the buttons they see; each step waits on the
stand-in's events (a new or edited message, a callback answer), never sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import redis.asyncio as aioredis
from aiogram import Bot, Dispatcher

from bot_runtime.booking import BookingConfig, ReminderWorker, create_dispatcher
from bot_runtime.booking.clock import ManualClock
from devstack.standins.telegram.client import BotInfo, TelegramControl, TgUser
from tests.fixtures.telegram import TelegramStandin

JsonDict = dict[str, Any]


@dataclass
class TenantBot:
    """One tenant's bot process: a dispatcher polling the stand-in, restartable."""

    standin: TelegramStandin
    info: BotInfo
    db: asyncpg.Pool
    redis: aioredis.Redis
    key_prefix: str
    config: BookingConfig
    clock: ManualClock
    bot: Bot | None = None
    dp: Dispatcher | None = None
    task: asyncio.Task[None] | None = None
    workers: list[ReminderWorker] = field(default_factory=list)

    @property
    def tz(self) -> ZoneInfo:
        """The business time zone."""
        return ZoneInfo(self.config.timezone)

    @property
    def control(self) -> TelegramControl:
        """The stand-in's control client."""
        return self.standin.control

    async def start(self) -> None:
        """Start polling in this process (a fresh Bot and Dispatcher, as a new slot would)."""
        assert self.task is None, "already running"
        self.bot = self.standin.make_bot(self.info)
        self.dp = create_dispatcher(
            db=self.db, redis=self.redis, key_prefix=self.key_prefix, config=self.config, clock=self.clock
        )
        self.task = asyncio.create_task(
            self.dp.start_polling(self.bot, handle_signals=False, close_bot_session=False, polling_timeout=5)
        )
        await self.control.wait_until_polling(self.info, timeout=15)

    async def stop(self) -> None:
        """Stop polling and close the HTTP session, like a process exiting."""
        if self.dp is not None and self.task is not None:
            with contextlib.suppress(RuntimeError):
                await self.dp.stop_polling()
            await self.task
        if self.bot is not None:
            await self.bot.session.close()
        self.task = self.dp = self.bot = None

    def worker(self) -> ReminderWorker:
        """A reminder worker with its own Bot session (as a separate process would have)."""
        worker = ReminderWorker(bot=self.standin.make_bot(self.info), db=self.db, config=self.config, clock=self.clock)
        self.workers.append(worker)
        return worker

    async def close(self) -> None:
        """Stop everything this harness started."""
        await self.stop()
        for worker in self.workers:
            await worker.bot.session.close()

    def person(self, user_id: int, first_name: str, *, username: str | None = None, lang: str = "ru") -> Person:
        """A Telegram user who talks to this bot."""
        return Person(self, TgUser(user_id, first_name, username=username, language_code=lang))


def buttons(message: JsonDict) -> list[JsonDict]:
    """All inline buttons under a message, row by row."""
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def labels(message: JsonDict) -> list[str]:
    """The texts of a message's inline buttons."""
    return [b["text"] for b in buttons(message)]


@dataclass
class Person:
    """A user acting through the stand-in: sends text, presses visible buttons, reads replies."""

    tenant: TenantBot
    user: TgUser

    @property
    def id(self) -> int:
        """The user's id, which is also the private chat's id."""
        return self.user.id

    async def messages(self) -> list[JsonDict]:
        """Everything the bot has sent this user, edits applied."""
        return await self.tenant.control.messages(self.tenant.info, self.id)

    async def last_id(self) -> int:
        """The id of the newest bot message in the chat (0 when none)."""
        found = await self.messages()
        return max((m["message_id"] for m in found), default=0)

    async def say(self, text: str, expect: str | None = None, *, timeout: float = 10) -> JsonDict:
        """Send text and return the bot's first new message (containing ``expect`` if given)."""
        sent = await self.tenant.control.send_message(self.tenant.info, self.user, text)
        return await self.tenant.control.wait_for_message(
            self.tenant.info, self.id, contains=expect, after_message_id=sent["message_id"], timeout=timeout
        )

    async def wait(self, contains: str, *, after: int = 0, timeout: float = 10) -> JsonDict:
        """Wait for a bot message (new, or edited into shape) containing ``contains``."""
        return await self.tenant.control.wait_for_message(
            self.tenant.info, self.id, contains=contains, after_message_id=after, timeout=timeout
        )

    async def press_data(self, message: JsonDict, data: str, *, force: bool = False) -> tuple[JsonDict, JsonDict]:
        """Press the button with callback ``data``; return (the callback answer, the message afterwards)."""
        query_id = await self.tenant.control.press_button(
            self.tenant.info, self.user, message["message_id"], data, force=force
        )
        answered = await self.tenant.control.wait_for_callback_answer(self.tenant.info, query_id, timeout=10)
        current = await self.message(message["message_id"])
        return answered.get("answer") or {}, current

    async def tap(self, message: JsonDict, label: str, *, exact: bool = False) -> tuple[JsonDict, JsonDict]:
        """Press the button whose text is (or contains) ``label``; fail if the user cannot see one."""
        for b in buttons(message):
            if (b["text"] == label) if exact else (label in b["text"]):
                return await self.press_data(message, b["callback_data"])
        raise AssertionError(f"no button {label!r} under message: {labels(message)}")

    async def step(self, message: JsonDict, label: str, *, exact: bool = False) -> JsonDict:
        """Press a button and return the message afterwards (the answer must not be an error)."""
        answer, current = await self.tap(message, label, exact=exact)
        assert "пошло не так" not in (answer.get("text") or ""), answer
        return current

    async def message(self, message_id: int) -> JsonDict:
        """The current state of one bot message."""
        for m in await self.messages():
            if m["message_id"] == message_id:
                return m
        raise AssertionError(f"message {message_id} not found")
