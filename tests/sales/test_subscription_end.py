"""A subscription nobody renews, as its owner and their clients live it: booking paused in the grace period,
the bot released after it, a renewal within retention bringing the same bot back with its data, and after
retention everything the tenant had deleted (checked in PostgreSQL, Redis and Vault) and recorded.

The periods are this tenant's own (``paid_until``, ``grace_days``, ``retention_days`` are per tenant), set
so that "now" is where each step needs it; the reconciler runs in the test, one pass at a time, with the
moment the test gives it. Other tenants of the shared stack are left alone.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import hvac
import hvac.exceptions
import pytest
import redis.asyncio as aioredis
from aiogram.exceptions import TelegramUnauthorizedError

from botpool.pool import protocol
from botpool.tenancy.activation import Activator
from botpool.tenancy.package import secret_path
from botpool.tenancy.provision import redis_prefix
from devstack.buyer import RENEWED_MARK, Buyer
from devstack.standins.telegram.client import BotInfo, TgUser
from reconciler.loop import Reconciler
from tests.fixtures.greeting import greeted
from tests.fixtures.stack import RedisHandle
from tests.fixtures.telegram import TelegramStandin
from tests.sales.support import buy_with_pasted_token, wait_for
from tests.sales.test_theft import package, tenant_of

COMPANY = "Салон Лилии"
CLIENT = TgUser(id=8_200_001, first_name="Вера")


async def _status(db: asyncpg.Pool, tenant_id: str) -> str:
    return str(await db.fetchval("SELECT status FROM control.tenants WHERE tenant_id = $1", tenant_id))


async def _pass(reconciler: Reconciler, activator: Activator) -> list[str]:
    """One reconciler pass at the current moment."""
    return await reconciler.reconcile_once(await protocol.snapshot(activator.consul), now=datetime.now(UTC))


async def _paused(telegram: TelegramStandin, bot: BotInfo) -> bool:
    """A client asks to book; True if told booking is paused (asked once a second: the bot limits floods)."""
    sent = await telegram.control.send_message(bot, CLIENT, "📅 Записаться")
    answer = await telegram.control.wait_for_message(bot, CLIENT.id, after_message_id=int(sent["message_id"]),
                                                     timeout=10)
    if "приостановлена" in str(answer.get("text")):
        return True
    await asyncio.sleep(1.0)
    return False


async def test_an_unrenewed_bot_pauses_is_released_comes_back_on_renewal_then_is_deleted(  # type: ignore[no-untyped-def]
    new_buyer, telegram_standin: TelegramStandin, db: asyncpg.Pool, unique: str, activator: Activator,
    root_vault: hvac.Client, redis_server: RedisHandle,
) -> None:
    buyer: Buyer = new_buyer()
    own = await buy_with_pasted_token(buyer, f"end_{unique}_bot", COMPANY)
    tenant_id = await db.fetchval("SELECT tenant_id FROM control.tenants WHERE bot_id = $1", own.id)
    await greeted(telegram_standin, own, COMPANY, client=CLIENT, timeout=30)
    reconciler = Reconciler(activator)

    # The paid period ended an hour ago; the grace period (3 days by default) runs.
    await db.execute("UPDATE control.tenants SET paid_until = now() - interval '1 hour' WHERE tenant_id = $1",
                     tenant_id)
    await activator.publish_subscription(tenant_id)  # what the bot reads; written with every paid_until
    await wait_for(lambda: _paused(telegram_standin, own), timeout=60, what="clients told booking is paused")
    await _pass(reconciler, activator)
    assert await _status(db, tenant_id) == "active", "the bot runs through its grace period"

    # The grace period is over: released, its data kept.
    await db.execute("UPDATE control.tenants SET grace_days = 0 WHERE tenant_id = $1", tenant_id)
    assert f"released expired {tenant_id}" in await _pass(reconciler, activator)
    await protocol.wait_until(activator.consul, lambda s: tenant_id not in s.tenants, timeout_s=30)

    # The owner renews within retention: the same bot comes back with its clients.
    await buyer.say("/renew")
    await buyer.renew(await buyer.expect_button("s:w:"), "basic")
    paid = datetime.now(UTC)
    await buyer.pay()
    await buyer.expect(RENEWED_MARK)
    await wait_for(lambda: _is(db, tenant_id, "active"), timeout=180, what="the renewed tenant served again")
    await greeted(telegram_standin, own, COMPANY, client=CLIENT, timeout=30)
    schema = f'"{tenant_id}"'
    assert await db.fetchval(f"SELECT count(*) FROM {schema}.clients WHERE telegram_id = $1", CLIENT.id) == 1
    paid_until = await db.fetchval("SELECT paid_until FROM control.tenants WHERE tenant_id = $1", tenant_id)
    assert paid <= paid_until - timedelta(days=30) <= datetime.now(UTC), "a late renewal pays for no gap"

    # Not renewed again: released at the end, deleted after its retention period.
    await db.execute(
        "UPDATE control.tenants SET paid_until = now() - interval '1 hour', grace_days = 0, retention_days = 0 "
        "WHERE tenant_id = $1", tenant_id,
    )
    actions = await _pass(reconciler, activator)  # with no retention left, one pass releases and deletes
    assert f"released expired {tenant_id}" in actions
    assert any(a.startswith(f"deleted {tenant_id}") for a in actions)

    assert await _status(db, tenant_id) == "deleted"
    record = await db.fetchrow("SELECT * FROM control.tenant_deletions WHERE tenant_id = $1", tenant_id)
    assert record is not None and "postgres schema and role" in record["removed"]
    assert not await db.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", tenant_id)
    assert not await db.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", tenant_id)
    admin = aioredis.Redis.from_url(redis_server.url)
    try:
        assert await admin.acl_getuser(tenant_id) is None
        assert [k async for k in admin.scan_iter(match=f"{redis_prefix(tenant_id)}*")] == []
    finally:
        await admin.aclose()
    with pytest.raises(hvac.exceptions.InvalidPath):
        root_vault.secrets.kv.v2.read_secret_version(path=secret_path(tenant_id), mount_point="secret",
                                                     raise_on_deleted_version=True)

    # A renewal now is a new purchase.
    await buyer.say("/renew")
    await buyer.expect("нет ботов")


async def _is(db: asyncpg.Pool, tenant_id: str, status: str) -> bool:
    return await _status(db, tenant_id) == status


async def test_deleting_a_managed_bots_tenant_revokes_its_token(  # type: ignore[no-untyped-def]
    new_buyer, telegram_standin: TelegramStandin, db: asyncpg.Pool, unique: str, activator: Activator,
    root_vault: hvac.Client,
) -> None:
    buyer: Buyer = new_buyer()
    await buyer.start("basic")
    managed = await buyer.one_tap_bot(f"gone_{unique}_bot", "Салон Ольги")
    await buyer.checkout(await buyer.details("Салон Ольги"))
    await buyer.pay()
    await buyer.ready()
    tenant_id = await tenant_of(db, buyer.order_id)
    token = package(root_vault, tenant_id)["bot_token"]

    # Released (an operator's release, or the end of a grace period) and kept for no time at all.
    await activator.release(tenant_id)
    await db.execute("UPDATE control.tenants SET retention_days = 0 WHERE tenant_id = $1", tenant_id)
    assert any(a.startswith(f"deleted {tenant_id}") for a in await _pass(Reconciler(activator), activator))

    # The sales bot, the bot's manager, revokes the token every slot that served it once held.
    old = telegram_standin.make_bot(token)
    try:
        async def revoked() -> bool:
            try:
                await old.get_me()
            except TelegramUnauthorizedError:
                return True
            return False

        await wait_for(revoked, timeout=60, what="the deleted tenant's bot token revoked")
    finally:
        await old.session.close()
    assert await db.fetchval(
        "SELECT managed_token_revoked_at IS NOT NULL FROM control.tenant_deletions WHERE tenant_id = $1", tenant_id
    )
    assert managed.id == await db.fetchval("SELECT bot_id FROM control.tenants WHERE tenant_id = $1", tenant_id)
