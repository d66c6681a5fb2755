"""Consul really does what the pool relies on: check-and-set creates and session-bound ephemeral keys."""

from __future__ import annotations

from consul.aio import Consul as ConsulClient

from botpool.clients.consul import create_session


async def test_cas_zero_creates_only_once(consul: ConsulClient, kv_prefix: str) -> None:
    key = f"{kv_prefix}slot/0"
    assert await consul.kv.put(key, "first", cas=0) is True
    assert await consul.kv.put(key, "second", cas=0) is False
    _, entry = await consul.kv.get(key)
    assert entry["Value"] == b"first"


async def test_cas_with_stale_index_loses(consul: ConsulClient, kv_prefix: str) -> None:
    key = f"{kv_prefix}slot/1"
    await consul.kv.put(key, "v1")
    _, entry = await consul.kv.get(key)
    stale = entry["ModifyIndex"]
    assert await consul.kv.put(key, "v2", cas=stale) is True
    assert await consul.kv.put(key, "v3", cas=stale) is False


async def test_session_bound_key_vanishes_when_session_is_destroyed(
    consul: ConsulClient, kv_prefix: str
) -> None:
    session = await create_session(consul, name="smoke", ttl_s=30, behavior="delete")
    key = f"{kv_prefix}ephemeral"
    assert await consul.kv.put(key, "alive", acquire=session) is True
    _, entry = await consul.kv.get(key)
    assert entry["Session"] == session
    await consul.session.destroy(session)
    _, gone = await consul.kv.get(key)
    assert gone is None
