"""A stolen handoff (its wrapping token used before the slot) is refused, and the tenant's credentials rotated.

Two bought bots, one made in one tap (managed by the sales bot) and one with a pasted token, are
moved to a new slot with a handoff a thief has already used. What the platform owes them: the slot
refuses, one alert per theft, the stolen database and Redis passwords stop working (also for a
thief already connected), the managed bot gets a new token and the stolen one is dead, the pasted
token's owner is told once to revoke it, and both bots answer clients again with the new credentials.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncpg
import hvac
import pytest
import redis.asyncio as aioredis
import redis.exceptions
from aiogram.exceptions import TelegramUnauthorizedError
from consul.aio import Consul

from botpool import alerts
from botpool.pool import handoff, protocol
from botpool.pool.model import Claim, SlotState
from botpool.tenancy.package import secret_path
from devstack.buyer import Buyer
from tests.fixtures.stack import PostgresHandle, RedisHandle
from tests.fixtures.telegram import TelegramStandin
from tests.pool.conftest import Pool, reconciler, root_vault  # noqa: F401 - fixtures, used by name
from tests.sales.conftest import SalesBot
from tests.sales.support import buy_with_pasted_token, wait_for

KV_MOUNT = "secret"
REVOKE_MARK = "/revoke"


async def steal_handoff(consul: Consul, admin_vault: hvac.Client, tenant_id: str) -> tuple[int, Claim]:
    """Move the tenant to a new slot with a handoff a thief has used first; the slot index and its claim.

    The one place that knows where a handoff travels (a wrapping token left in Vault at the claimed
    allocation's own path, ``botpool.pool.handoff``): the tenant's secret is read wrapped exactly as
    the activator reads it, the token is unwrapped with an administrator's Vault token (the theft),
    and the tenant's slot is released and claimed anew, the used token delivered to the new slot.
    """
    response = admin_vault.adapter.get(f"/v1/{KV_MOUNT}/data/{secret_path(tenant_id)}", wrap_ttl="300s")
    token = response["wrap_info"]["token"]
    await asyncio.to_thread(admin_vault.sys.unwrap, token)

    async def deliver(slot: SlotState, claim: Claim) -> None:
        entry = handoff.Handoff(
            tenant_id=tenant_id, attempt=claim.attempt, alloc_id=claim.alloc_id, wrap_token=token
        )
        await asyncio.to_thread(handoff.deliver, admin_vault, KV_MOUNT, entry)

    await protocol.release(consul, tenant_id)
    slot, claim = await protocol.claim(consul, tenant_id, deliver)
    return slot.index, claim


def package(admin_vault: hvac.Client, tenant_id: str) -> dict[str, Any]:
    """The tenant's secret as Vault holds it now (read plainly, as only an administrator may)."""
    data: dict[str, Any] = admin_vault.secrets.kv.v2.read_secret_version(
        path=secret_path(tenant_id), mount_point=KV_MOUNT, raise_on_deleted_version=True
    )["data"]["data"]
    return data


async def tenant_of(db: asyncpg.Pool, order_id: str | None) -> str:
    """The tenant an order bought."""
    tenant_id: str = await db.fetchval("SELECT tenant_id FROM control.orders WHERE order_id = $1", order_id)
    return tenant_id


async def pg_login(postgres: PostgresHandle, user: str, password: str) -> asyncpg.Connection:
    """A session as the tenant's role, as its bot (or a thief holding its password) opens one."""
    return await asyncpg.connect(host=postgres.host, port=postgres.port, user=user, password=password,
                                 database="botpool")


def redis_login(server: RedisHandle, user: str, password: str) -> aioredis.Redis:
    """A client of the tenant's Redis user (connects on first use)."""
    return aioredis.Redis(host=server.host, port=server.port, username=user, password=password)


async def revoke_notices(telegram: TelegramStandin, sales_bot: SalesBot, buyer: Buyer) -> int:
    """How many times the sales bot told this buyer to revoke a token."""
    return sum(REVOKE_MARK in (m.get("text") or "") for m in await telegram.control.messages(sales_bot.info,
                                                                                              buyer.user.id))


async def test_stolen_handoff_rotates_credentials(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str, telegram_standin: TelegramStandin,
    root_vault: hvac.Client, postgres: PostgresHandle, redis_server: RedisHandle,  # noqa: F811
    reconciler: Path,  # noqa: F811 - what re-homes a tenant whose slot refused
) -> None:
    managed_buyer: Buyer = new_buyer()
    await managed_buyer.start("basic")
    managed = await managed_buyer.one_tap_bot(f"theft_m_{unique}_bot", "Салон Веры")
    await managed_buyer.checkout(await managed_buyer.details("Салон Веры"))
    await managed_buyer.pay()
    await managed_buyer.ready()

    pasted_buyer: Buyer = new_buyer()
    own = await buy_with_pasted_token(pasted_buyer, f"theft_p_{unique}_bot", "Барбер Олег")

    tenants = {
        "managed": await tenant_of(db, managed_buyer.order_id),
        "pasted": await tenant_of(db, pasted_buyer.order_id),
    }
    before = {kind: package(root_vault, t) for kind, t in tenants.items()}
    # A thief who already used the stolen passwords keeps nothing: sessions opened with them are cut.
    thief_pg = await pg_login(postgres, tenants["managed"], before["managed"]["db_password"])
    thief_redis = redis_login(redis_server, tenants["managed"], before["managed"]["redis_password"])
    assert await thief_redis.ping()

    # A free slot for each tenant to be moved to: no scaler runs here, and earlier tests may have filled the pool.
    await pool.scale_to_free(len(tenants), timeout_s=600)  # as the sales fixtures wait: slots start slowly under load
    stolen = {kind: await steal_handoff(pool.consul, root_vault, t) for kind, t in tenants.items()}

    async def refused() -> bool:  # the slot's own alert names the attempt it refused (its state moves on)
        attempts = {a.details.get("attempt") for a in await alerts.list_alerts(pool.consul)
                    if a.kind == "handoff_refused"}
        return all(claim.attempt in attempts for _, claim in stolen.values())

    await wait_for(refused, timeout=30, what="both slots refusing the stolen handoffs")

    # Served again, on a new slot, with what Vault now holds.
    await managed_buyer.talk_to(managed, timeout=120)
    await pasted_buyer.talk_to(own.username, timeout=120)
    after = {kind: package(root_vault, t) for kind, t in tenants.items()}

    for kind, tenant_id in tenants.items():
        old, new = before[kind], after[kind]
        assert new["db_password"] != old["db_password"] and new["redis_password"] != old["redis_password"], kind
        with pytest.raises(asyncpg.InvalidPasswordError):
            await pg_login(postgres, tenant_id, old["db_password"])
        await (await pg_login(postgres, tenant_id, new["db_password"])).close()
        stale = redis_login(redis_server, tenant_id, old["redis_password"])
        with pytest.raises(redis.exceptions.AuthenticationError):
            await stale.ping()
        await stale.aclose()
        fresh = redis_login(redis_server, tenant_id, new["redis_password"])
        assert await fresh.ping()
        await fresh.aclose()
        refusals = [a for a in await alerts.list_alerts(pool.consul) if a.details.get("tenant_id") == tenant_id]
        assert [a.kind for a in refusals] == ["handoff_refused"], kind
        assert refusals[0].details["attempt"] == stolen[kind][1].attempt
        rotated = await db.fetch(
            "SELECT attempt FROM control.credential_rotations WHERE tenant_id = $1 AND credentials_rotated_at "
            "IS NOT NULL", tenant_id,
        )
        assert [r["attempt"] for r in rotated] == [stolen[kind][1].attempt], kind

    with pytest.raises((asyncpg.PostgresError, asyncpg.InterfaceError, OSError)):
        await thief_pg.fetchval("SELECT 1")
    with pytest.raises(redis.exceptions.ConnectionError):  # cut, and the stolen password no longer logs in
        await thief_redis.ping()
    await thief_redis.aclose()
    thief_pg.terminate()

    # The managed bot has a new token; the stolen one is revoked at Telegram. The pasted token is the owner's.
    assert after["managed"]["bot_token"] != before["managed"]["bot_token"]
    assert after["pasted"]["bot_token"] == before["pasted"]["bot_token"] == own.token
    old_bot = telegram_standin.make_bot(before["managed"]["bot_token"])
    new_bot = telegram_standin.make_bot(after["managed"]["bot_token"])
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await old_bot.get_me()
        assert (await new_bot.get_me()).id == managed.id
    finally:
        await old_bot.session.close()
        await new_bot.session.close()

    # The pasted token's owner is told, once, in the chat they bought in; the managed bot's owner has nothing to do.
    async def told() -> bool:
        return await revoke_notices(telegram_standin, sales_bot, pasted_buyer) >= 1

    await wait_for(told, timeout=30, what="the revoke notice")
    assert await revoke_notices(telegram_standin, sales_bot, pasted_buyer) == 1
    assert await revoke_notices(telegram_standin, sales_bot, managed_buyer) == 0
