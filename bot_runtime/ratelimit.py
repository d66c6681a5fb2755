"""Per-user and per-tenant rate limits for a tenant bot, counted in the tenant's own Redis prefix.

A fixed one-minute window per user stops one client flooding a salon's bot;
a one-second window per tenant protects the shared database from any single
bot. Both counters are updated in one pipelined round trip per update.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

SLOW_DOWN = "Слишком много сообщений, подождите минуту. / Too many messages, please wait a minute."


class RateLimitMiddleware(BaseMiddleware):
    """Drops updates over the limits; a limited user is told once per window to slow down."""

    def __init__(self, redis: aioredis.Redis, prefix: str, *, user_per_min: int, tenant_per_s: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._user_per_min = user_per_min
        self._tenant_per_s = tenant_per_s

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user = data.get("event_from_user")
        now = time.time()
        tenant_key = f"{self._prefix}rl:tenant:{int(now)}"
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(tenant_key)
        pipe.expire(tenant_key, 2)
        user_key = None
        if user is not None:
            user_key = f"{self._prefix}rl:user:{user.id}:{int(now // 60)}"
            pipe.incr(user_key)
            pipe.expire(user_key, 61)
        counts = await pipe.execute()
        if counts[0] > self._tenant_per_s:
            return None
        if user_key is not None and counts[2] > self._user_per_min:
            if counts[2] == self._user_per_min + 1 and isinstance(event, Update) and event.message:
                await event.message.answer(SLOW_DOWN)
            return None
        return await handler(event, data)
