"""A real pool slot rides out a Redis and a PostgreSQL restart: it apologises, reports degraded, and recovers alone.

The tenant runs in a slot of the real bot-pool job on Nomad, connected as its
own PostgreSQL role and Redis ACL user. While a server is down, a client's
message gets the "technical pause" answer and the slot's Consul check turns
"warning" (not critical: the slot keeps its session, so the reconciler has
nothing to move). When the server is back, the same slot (same allocation,
same session) answers again: its pools reconnected, and its Redis user came
back from the server's ACL file.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from consul.aio import Consul
from pydantic import SecretStr

from botpool import jobspec, wiring
from botpool import settings as cfg
from botpool.pool import keys, protocol
from botpool.pool.model import SlotMode
from botpool.tenancy.activation import Activator, TenantSpec
from devstack.stack import Stack
from devstack.standins.telegram.client import BotInfo, TgUser
from tests.fixtures.outage import outage
from tests.fixtures.stack import RedisHandle
from tests.fixtures.telegram import TelegramStandin
from tests.pool import conftest as pool_fixtures

# The activator with the real Vault policy, as tests/pool uses it.
activator_token = pool_fixtures.activator_token
activator = pool_fixtures.activator
slot_env = pool_fixtures.slot_env

CLIENT = TgUser(id=778001, first_name="Ирина")
PAUSE = "технический перерыв"


@pytest.fixture(scope="module")
async def pool_consul(stack: Stack, slot_env: dict[str, str]) -> AsyncIterator[Consul]:
    """The pool job with two slots (one to serve, one spare) and a Consul client; purged afterwards."""
    env = stack.env()
    async with wiring.nomad(cfg.load(cfg.NomadSettings, env)) as nomad, wiring.consul(
        cfg.load(cfg.ConsulSettings, env)
    ) as client:
        await pool_fixtures._purge(nomad, client)
        await jobspec.submit_pool(nomad, count=2, env=slot_env)
        await protocol.wait_until(client, lambda s: len(s.free()) >= 2, timeout_s=180)
        yield client
        await pool_fixtures._purge(nomad, client)


async def say(telegram: TelegramStandin, bot: BotInfo, text: str, *, timeout: float = 30) -> str:
    """Send ``text`` as the client and return the bot's first reply."""
    sent = await telegram.control.send_message(bot, CLIENT, text)
    reply = await telegram.control.wait_for_message(
        bot, CLIENT.id, after_message_id=sent["message_id"], timeout=timeout
    )
    return str(reply["text"])


async def slot_check(consul: Consul, alloc_id: str, status: str, *, timeout: float = 30) -> dict[str, Any]:
    """Wait (blocking queries) until the slot's Consul check has ``status``; return the check."""
    index = None
    async with asyncio.timeout(timeout):
        while True:
            index, checks = await consul.health.checks(keys.SLOT_SERVICE, index=index, wait="5s")
            for check in checks:
                if alloc_id in check.get("ServiceID", "") and check.get("Status") == status:
                    return dict(check)


async def test_a_slot_rides_out_redis_and_postgres_restarts(
    pool_consul: Consul, activator: Activator, telegram_standin: TelegramStandin, stack: Stack,
    redis_server: RedisHandle,
) -> None:
    bot = await telegram_standin.control.create_bot(f"outage_{uuid.uuid4().hex[:6]}_bot")
    tenant_id = f"t_{uuid.uuid4().hex[:12]}"
    spec = TenantSpec(
        tenant_id=tenant_id, bot_token=SecretStr(bot.token), admin_telegram_id=42, company_name="Steady Salon",
        paid_until=datetime.now(UTC) + timedelta(days=30),
    )
    consul = pool_consul
    result = await activator.activate(spec)
    assert "Steady Salon" in await say(telegram_standin, bot, "/start")
    before = (await protocol.snapshot(consul)).slots[result.slot_index]
    try:
        for service in ("redis", "postgres"):
            async with outage(stack, service):
                assert PAUSE in (await say(telegram_standin, bot, "/start")).lower()
                check = await slot_check(consul, before.alloc_id, "warning")
                assert "DEGRADED" in check["Output"] and service in check["Output"]
            await slot_check(consul, before.alloc_id, "passing")
            # The same slot, never restarted and still holding its session: nothing for the reconciler to move.
            slot = (await protocol.snapshot(consul)).slots[result.slot_index]
            identity = (slot.alloc_id, slot.session, slot.started_at)
            assert identity == (before.alloc_id, before.session, before.started_at), f"{service} restart moved the slot"
            assert (slot.mode, slot.tenant_id) == (SlotMode.ACTIVE, tenant_id)
            assert "Steady Salon" in await say(telegram_standin, bot, "/start")
        admin = aioredis.Redis.from_url(redis_server.url)
        try:
            assert await admin.acl_getuser(tenant_id), "the tenant's Redis user survived the restart"
        finally:
            await admin.aclose()
    finally:
        await activator.release(tenant_id)
