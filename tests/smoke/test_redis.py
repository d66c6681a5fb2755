"""A Redis ACL user limited to a key prefix is refused outside it on the real server."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis
import redis.exceptions

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
