"""Redis clients (redis-py asyncio) for FSM state and rate limits."""

from __future__ import annotations

import redis.asyncio as aioredis


def connect(url: str) -> aioredis.Redis:
    """Return a client for ``url``; tenants connect as their own ACL user."""
    return aioredis.Redis.from_url(url, decode_responses=False, health_check_interval=30)
