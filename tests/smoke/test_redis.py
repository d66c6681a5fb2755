"""A Redis ACL user limited to a key prefix is refused outside it on the real server."""

from __future__ import annotations

import uuid
from typing import Any, cast

import pytest
import redis.asyncio as aioredis
import redis.exceptions

from botpool.clients import redis as redis_client
from tests.fixtures.stack import RedisHandle


async def test_acl_user_is_confined_to_its_prefix(redis_server: RedisHandle) -> None:
    admin = aioredis.Redis.from_url(redis_server.url)
    user, password = f"smoke-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    try:
        await admin.acl_setuser(
            user, enabled=True, passwords=[f"+{password}"], keys=[f"{user}:*"],
            commands=["+@all", "-@dangerous"], reset=True,
        )
        tenant = aioredis.Redis(host=redis_server.host, port=redis_server.port, username=user, password=password)
        try:
            await tenant.set(f"{user}:fsm", "ok")
            assert await tenant.get(f"{user}:fsm") == b"ok"
            with pytest.raises(redis.exceptions.NoPermissionError):
                await tenant.set("other-tenant:fsm", "stolen")
            with pytest.raises(redis.exceptions.NoPermissionError):
                await tenant.get("other-tenant:fsm")
        finally:
            await tenant.aclose()
    finally:
        await admin.acl_deluser(user)
        await admin.aclose()


async def _drop(admin: aioredis.Redis, client: aioredis.Redis) -> None:
    """Close ``client``'s pooled connection from the server side, as a Redis restart does to all of them."""
    client_id = await client.client_id()
    assert await cast(Any, admin).execute_command("CLIENT", "KILL", "ID", client_id) == 1


async def test_a_client_from_a_url_survives_its_connection_being_dropped(redis_server: RedisHandle) -> None:
    """What a Redis restart does to every pooled connection, done to one: the next command still succeeds.

    redis-py's ``from_url`` clients have no retry by default, so each pooled connection failed once after
    a restart (a buyer's update lost); ``botpool.clients.redis.from_url`` retries on a fresh connection.
    """
    admin = aioredis.Redis.from_url(redis_server.url)
    plain = aioredis.Redis.from_url(redis_server.url)
    ours = redis_client.from_url(redis_server.url)
    try:
        await _drop(admin, plain)
        with pytest.raises(redis.exceptions.ConnectionError):
            await plain.set("botpool-test:after-drop", "1", ex=10)  # the defect, as redis-py ships it
        await _drop(admin, ours)
        assert await ours.set("botpool-test:after-drop", "1", ex=10)
    finally:
        for client in (admin, plain, ours):
            await client.aclose()
