"""The booking bot's FSM storage (Redis, read through a cache in the process) against a real Redis.

What a user would notice if it were wrong: a conversation that forgets where it was after the bot
moved to another slot (the cache must never hold what Redis does not), or a step that sees data
another step never stored (a caller's changes must not leak into the cache).
"""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from aiogram.fsm.state import State
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from redis import exceptions as redis_errors

from bot_runtime.booking import SharedRedisStorage

KEY = StorageKey(bot_id=1, chat_id=42, user_id=42)


def storage(redis: aioredis.Redis, redis_prefix: str) -> SharedRedisStorage:
    """A storage as ``create_dispatcher`` builds it."""
    builder = DefaultKeyBuilder(prefix=f"{redis_prefix}fsm", with_bot_id=True, with_destiny=True)
    return SharedRedisStorage(redis, key_builder=builder)


async def test_what_one_slot_wrote_is_what_the_next_one_reads(redis: aioredis.Redis, redis_prefix: str) -> None:
    first = storage(redis, redis_prefix)
    assert await first.get_state(KEY) is None and await first.get_data(KEY) == {}  # cached as absent
    await first.set_state(KEY, State("pick_day", group_name="Booking"))
    await first.set_data(KEY, {"service": 3, "days": ["2026-12-01"]})
    assert await first.get_state(KEY) == "Booking:pick_day"

    moved = storage(redis, redis_prefix)  # the tenant's next slot: nothing cached
    assert await moved.get_state(KEY) == "Booking:pick_day"
    assert await moved.get_data(KEY) == {"service": 3, "days": ["2026-12-01"]}

    await moved.set_state(KEY, None)
    await moved.set_data(KEY, {})
    assert await storage(redis, redis_prefix).get_state(KEY) is None
    assert await storage(redis, redis_prefix).get_data(KEY) == {}
    assert await moved.get_state(KEY) is None and await moved.get_data(KEY) == {}


async def test_changing_the_returned_data_changes_nothing_stored(redis: aioredis.Redis, redis_prefix: str) -> None:
    fsm = storage(redis, redis_prefix)
    await fsm.set_data(KEY, {"days": ["mon"]})
    data = await fsm.get_data(KEY)
    data["days"].append("tue")
    data["master"] = 7
    assert await fsm.get_data(KEY) == {"days": ["mon"]}


async def test_a_failed_write_is_not_remembered(redis: aioredis.Redis, redis_prefix: str) -> None:
    fsm = storage(redis, redis_prefix)
    await fsm.set_state(KEY, "Booking:pick_service")
    await fsm.set_data(KEY, {"svc": [1]})
    broken = aioredis.Redis(host="127.0.0.1", port=1)  # nothing listens: every command fails
    fsm.redis = broken
    try:
        with pytest.raises(redis_errors.ConnectionError):
            await fsm.set_data(KEY, {"svc": [1, 2]})
        assert await fsm.get_data(KEY) == {"svc": [1]}  # what Redis still holds
        with pytest.raises(redis_errors.ConnectionError):
            await fsm.get_state(KEY)  # the state is always read from Redis: an outage shows at once
    finally:
        fsm.redis = redis
        await broken.aclose()
    assert await fsm.get_state(KEY) == "Booking:pick_service"
    assert await storage(redis, redis_prefix).get_data(KEY) == {"svc": [1]}


async def test_the_cache_keeps_only_the_most_recent_keys(redis: aioredis.Redis, redis_prefix: str) -> None:
    fsm = storage(redis, redis_prefix)
    fsm.CACHED = 3
    for user in range(5):
        await fsm.set_data(StorageKey(bot_id=1, chat_id=user, user_id=user), {"S": user})
    assert len(fsm._data) == 3
    # Dropped from the cache, still in Redis.
    assert await fsm.get_data(StorageKey(bot_id=1, chat_id=0, user_id=0)) == {"S": 0}
