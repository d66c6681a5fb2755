"""Tenant A's Redis user cannot discover tenant B's key names, by any command, on the real server.

Key names carry Telegram user ids (``<tenant>:fsm:<bot>:<chat>:<user>:...``),
so listing another tenant's keys leaks who its clients are even when their
values stay unreadable.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, cast

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from botpool.tenancy import provision
from tests.fixtures.stack import RedisHandle

B_KEY_SUFFIX = "fsm:123:555000111:555000111:default:state"


def new_tenant_id() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def admin(redis_server: RedisHandle) -> AsyncIterator[aioredis.Redis]:
    """The Redis administrator (default user)."""
    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
async def tenants(
    admin: aioredis.Redis, redis_server: RedisHandle
) -> AsyncIterator[Callable[[], Awaitable[tuple[str, aioredis.Redis]]]]:
    """Provision tenants the way activation does; each comes with a client logged in as its user."""
    made: list[tuple[str, aioredis.Redis]] = []

    async def make() -> tuple[str, aioredis.Redis]:
        tenant_id, password = new_tenant_id(), provision.new_password()
        await provision.provision_redis(admin, tenant_id, password)
        client = aioredis.Redis(
            host=redis_server.host, port=redis_server.port, username=tenant_id, password=password, driver_info=None
        )
        made.append((tenant_id, client))
        return tenant_id, client

    yield make
    for tenant_id, client in made:
        await client.aclose()
        await admin.delete(*[key async for key in admin.scan_iter(match=f"{tenant_id}:*")] or ["-"])
        await admin.acl_deluser(tenant_id)
    await admin.acl_save()


def command(client: aioredis.Redis, *args: str | int) -> Awaitable[Any]:
    """A raw command redis-py has no typed method for."""
    return cast(Awaitable[Any], cast(Any, client).execute_command(*args))


def discovery_attempts(client: aioredis.Redis, other: str) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Every way a Redis client could learn key or channel names it was not given."""
    return {
        "KEYS": lambda: client.keys("*"),
        "SCAN": lambda: client.scan(0, count=1000),
        "SCAN MATCH": lambda: client.scan(0, match=f"{other}:*", count=1000),
        "RANDOMKEY": lambda: client.randomkey(),
        "PUBSUB CHANNELS": lambda: client.pubsub_channels(),
        "PUBSUB NUMSUB": lambda: client.pubsub_numsub(f"{other}:events"),
        "PUBSUB SHARDCHANNELS": lambda: command(client, "PUBSUB", "SHARDCHANNELS"),
        "PUBLISH": lambda: client.publish(f"{other}:events", "x"),
        "EXISTS other": lambda: client.exists(f"{other}:{B_KEY_SUFFIX}"),
        "TYPE other": lambda: client.type(f"{other}:{B_KEY_SUFFIX}"),
        "DBSIZE": lambda: client.dbsize(),
        "INFO keyspace": lambda: client.info("keyspace"),
        "OBJECT other": lambda: client.object("encoding", f"{other}:{B_KEY_SUFFIX}"),
        "EVAL": lambda: client.eval("return redis.call('keys', '*')", 0),
        "SELECT 1": lambda: command(client, "SELECT", 1),
        "MONITOR-like CLIENT LIST": lambda: client.client_list(),
        "ACL LIST": lambda: client.acl_list(),
    }


async def test_tenant_a_cannot_discover_tenant_b_key_names(
    tenants: Callable[[], Awaitable[tuple[str, aioredis.Redis]]], admin: aioredis.Redis
) -> None:
    _a, client_a = await tenants()
    b, client_b = await tenants()
    await client_b.set(f"{b}:{B_KEY_SUFFIX}", "booking:pick_time")
    listener = admin.pubsub()
    await listener.subscribe(f"{b}:events")  # an active channel PUBSUB CHANNELS would list
    try:
        allowed = []
        for name, attempt in discovery_attempts(client_a, b).items():
            try:
                await attempt()
            except redis.exceptions.NoPermissionError:
                continue
            allowed.append(name)
        assert not allowed, "tenant A's user must be refused these"
        subscriber = client_a.pubsub()
        try:
            await subscriber.psubscribe("*")  # every message on every channel, with its name
            with pytest.raises(redis.exceptions.NoPermissionError):
                await subscriber.get_message(timeout=5)
        finally:
            await subscriber.aclose()  # type: ignore[no-untyped-call]
    finally:
        await listener.aclose()  # type: ignore[no-untyped-call]


async def test_tenant_a_runs_every_command_its_bot_uses_on_its_own_keys(
    tenants: Callable[[], Awaitable[tuple[str, aioredis.Redis]]], admin: aioredis.Redis
) -> None:
    a, client_a = await tenants()
    assert await client_a.ping()
    assert await client_a.set(f"{a}:fsm:1:2:2:default:state", "menu", ex=60)
    assert await client_a.get(f"{a}:fsm:1:2:2:default:state") == b"menu"
    async with client_a.pipeline(transaction=False) as pipe:  # the rate limiter's round trip
        pipe.incr(f"{a}:rl:tenant:1")
        pipe.expire(f"{a}:rl:tenant:1", 2)
        assert await pipe.execute() == [1, True]
    assert await client_a.delete(f"{a}:fsm:1:2:2:default:state", f"{a}:rl:tenant:1") == 2
    denials = [entry for entry in await admin.acl_log(count=128) if entry.get("username") == a]
    assert not denials, "Redis logged no refusal for this user, connecting included"


async def test_tenants_provisioned_under_older_rules_are_narrowed_at_control_plane_start(
    admin: aioredis.Redis, redis_server: RedisHandle
) -> None:
    tenant_id, password = new_tenant_id(), provision.new_password()
    # The rules of earlier versions: every command outside @dangerous and @admin, which let SCAN through.
    await admin.acl_setuser(
        tenant_id, enabled=True, reset=True, passwords=[f"+{password}"], keys=[f"{tenant_id}:*"],
        channels=[f"{tenant_id}:*"], commands=["+@all", "-@dangerous", "-@admin"],
    )
    client = aioredis.Redis(host=redis_server.host, port=redis_server.port, username=tenant_id, password=password)
    try:
        await client.scan(0)  # what the upgrade must take away
        assert await provision.confine_redis_users(admin) >= 1
        with pytest.raises(redis.exceptions.NoPermissionError):
            await client.scan(0)
        assert await client.set(f"{tenant_id}:k", "1"), "the running bot's password still works"
        assert await provision.confine_redis_users(admin) >= 1  # repeatable
        rules = await admin.acl_getuser(tenant_id)
        assert rules is not None and "on" in cast(list[str], rules["flags"]), "an upgrade never disables a user"
    finally:
        await client.aclose()
        await admin.delete(f"{tenant_id}:k")
        await admin.acl_deluser(tenant_id)
        await admin.acl_save()
