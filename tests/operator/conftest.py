"""Fixtures for the operator bot tests: a small real pool, real tenants, and the bot as a real process.

The bot runs as ``python -m operator_bot`` with the ``operator-bot`` role's own Consul and Nomad tokens
(``stack.role_env``), a PostgreSQL role that may only read ``control.tenants`` and ``control.orders``, no
Vault token and no Redis URL: if it needed more, these tests would fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from consul.aio import Consul

from botpool import jobspec, wiring
from botpool import settings as cfg
from botpool.clients.nomad import NomadClient
from botpool.pool import protocol
from botpool.tenancy import store
from devstack import ports
from devstack.operator import OperatorProcess, readonly_dsn
from devstack.stack import Stack
from devstack.standins.telegram.client import BotInfo, TelegramControl, TgUser
from tests.fixtures.stack import PostgresHandle
from tests.fixtures.telegram import TelegramStandin
from tests.pool.conftest import _purge, slot_env  # noqa: F401 - fixtures
from tests.scaler.conftest import Tenants, tenants  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
#: The pool's size at the start of the package, and the cap the bot is given.
POOL_SIZE = 3
MAX_TOTAL = 6


@dataclass
class Chat:
    """One Telegram user in a chat with the operator bot."""

    tg: TelegramControl
    bot: BotInfo
    user: TgUser
    #: The newest bot message seen; ``expect`` waits for messages after it.
    last: int = 0

    async def say(self, text: str) -> dict[str, Any]:
        """Write to the operator bot and return its next message."""
        await self.tg.send_message(self.bot, self.user, text)
        return await self.expect()

    async def expect(self, contains: str | None = None, *, timeout: float = 60.0) -> dict[str, Any]:
        """The next bot message (containing ``contains``) after the last one seen."""
        message = await self.tg.wait_for_message(
            self.bot, self.user.id, contains=contains, after_message_id=self.last, timeout=timeout
        )
        self.last = max(self.last, int(message["message_id"]))
        return message

    async def messages(self) -> list[dict[str, Any]]:
        """Every message the bot sent in this chat."""
        return await self.tg.messages(self.bot, self.user.id)

    async def press(self, message: dict[str, Any], prefix: str, *, force: bool = False) -> dict[str, Any]:
        """Press the button whose data starts with ``prefix``; the bot's answer to the callback."""
        data = next(
            str(b["callback_data"]) for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row if str(b.get("callback_data", "")).startswith(prefix)
        )
        query_id = await self.tg.press_button(self.bot, self.user, int(message["message_id"]), data, force=force)
        return await self.tg.wait_for_callback_answer(self.bot, query_id, timeout=60)


class OperatorBot(OperatorProcess):
    """The operator bot process, its Telegram bot and its two admins."""

    def __init__(
        self, env: dict[str, str], log_dir: Path, port: int, info: BotInfo, admins: tuple[TgUser, ...]
    ) -> None:
        """Keep the bot and the admins next to the process settings."""
        super().__init__(env, log_dir, port)
        self.info = info
        self.admins = admins


@dataclass
class PoolJob:
    """The pool job of this package, and Nomad and Consul as the stack's operator sees them."""

    nomad: NomadClient
    consul: Consul

    async def desired(self) -> int:
        """The group's count in Nomad."""
        job = await self.nomad.job(jobspec.POOL.id)
        assert job is not None
        return int(next(g["Count"] for g in job["TaskGroups"] if g["Name"] == jobspec.POOL.group))


@pytest.fixture(scope="package")
async def pool(stack: Stack, slot_env: dict[str, str]) -> AsyncIterator[PoolJob]:  # noqa: F811
    """The real pool job with a few waiting slots, shared by the package's tests."""
    env = stack.env()
    async with wiring.nomad(cfg.load(cfg.NomadSettings, env)) as nomad, wiring.consul(
        cfg.load(cfg.ConsulSettings, env)
    ) as consul:
        await _purge(nomad, consul)
        await jobspec.submit_pool(nomad, count=POOL_SIZE, env=slot_env)
        await protocol.wait_until(consul, lambda s: len(s.free()) >= POOL_SIZE, timeout_s=400)
        yield PoolJob(nomad, consul)
        await _purge(nomad, consul)


@pytest.fixture(scope="package")
async def operator_bot(
    stack: Stack, postgres: PostgresHandle, telegram_standin: TelegramStandin, pool: PoolJob,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[OperatorBot]:
    """The operator bot with its own bot, two admins and least-privilege credentials, running."""
    conn = await asyncpg.connect(postgres.dsn)
    try:
        await store.migrate(conn)  # the control schema, as any control-plane process's start makes it
    finally:
        await conn.close()
    suffix = uuid.uuid4().hex[:6]
    info = await telegram_standin.control.create_bot(f"ops_{suffix}_bot")
    admins = tuple(TgUser(id=n, first_name=f"Admin{n}", language_code="ru") for n in (8_100_001, 8_100_002))
    port = ports.pick()
    env = dict(os.environ)
    env.update(stack.role_env("operator-bot"))
    for unneeded in ("VAULT_TOKEN", "BOTPOOL_REDIS_URL"):
        env.pop(unneeded, None)
    env.update({
        "BOTPOOL_DATABASE_URL": await readonly_dsn(postgres.dsn),
        "OPERATOR_BOT_TOKEN": info.token,
        "OPERATOR_ADMINS": ",".join(str(a.id) for a in admins),
        "OPERATOR_WEBHOOK_PORT": str(port),
        "OPERATOR_ALERT_WAIT": "5s",
        "MAX_TOTAL_BOTS": str(MAX_TOTAL),
        "TELEGRAM_API_BASE": telegram_standin.base_url,
        "PYTHONPATH": str(ROOT),
    })
    bot = OperatorBot(env, tmp_path_factory.mktemp("operator-bot"), port, info, admins)
    await bot.start()
    try:
        for user in admins:  # an admin opens the chat once: Telegram lets a bot write only to people who have
            await Chat(telegram_standin.control, info, user).say("/start")
        yield bot
    finally:
        bot.stop()


_strangers = iter(range(8_200_000, 8_299_999))


async def _chat(operator_bot: OperatorBot, control: TelegramControl, user: TgUser) -> Chat:
    chat = Chat(control, operator_bot.info, user)
    chat.last = max((int(m["message_id"]) for m in await chat.messages()), default=0)
    return chat


@pytest.fixture
async def admin(operator_bot: OperatorBot, telegram_standin: TelegramStandin) -> Chat:
    """The first admin's chat with the bot, after whatever earlier tests left in it."""
    return await _chat(operator_bot, telegram_standin.control, operator_bot.admins[0])


@pytest.fixture
async def other_admin(operator_bot: OperatorBot, telegram_standin: TelegramStandin) -> Chat:
    """The second admin's chat with the bot, after whatever earlier tests left in it."""
    return await _chat(operator_bot, telegram_standin.control, operator_bot.admins[1])


@pytest.fixture
def stranger(operator_bot: OperatorBot, telegram_standin: TelegramStandin) -> Chat:
    """Someone not in OPERATOR_ADMINS."""
    n = next(_strangers)
    return Chat(telegram_standin.control, operator_bot.info, TgUser(id=n, first_name=f"S{n}", language_code="ru"))
