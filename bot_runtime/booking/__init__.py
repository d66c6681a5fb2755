"""The tenant's booking bot, as the runtime sees it: migrations, a dispatcher factory, a reminder worker.

The runtime connects a pool whose search_path is the tenant's schema, applies
``MIGRATIONS`` there, then calls ``create_dispatcher`` and starts polling next
to ``ReminderWorker.run``. Everything the bot knows lives in that schema and
in Redis under ``key_prefix`` (the FSM), so the bot can stop at any moment
and continue in another process.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, cast

import asyncpg
import redis.asyncio as aioredis
from aiogram import BaseMiddleware, Dispatcher
from aiogram.fsm.storage.base import DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.memory import SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisStorage

from bot_runtime.booking.clock import Clock
from bot_runtime.booking.config import BookingConfig
from bot_runtime.booking.errors import ErrorBoundary
from bot_runtime.booking.keyboards import alert_markup
from bot_runtime.booking.middlewares import ContextMiddleware
from bot_runtime.booking.perf import pin_response_models
from bot_runtime.booking.reminders import ReminderWorker
from bot_runtime.booking.routers import admin, booking, common, fallback, my
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.subscription import PausedGate
from botpool.db import migrations

MIGRATIONS: list[migrations.Migration] = migrations.load("bot_runtime.booking")

__all__ = ["MIGRATIONS", "BookingConfig", "Clock", "ReminderWorker", "create_dispatcher"]


class SharedRedisStorage(RedisStorage):
    """aiogram's Redis FSM storage, its data read through a cache in the process, leaving the Redis client open.

    Most updates read the user's FSM data, one Redis round trip each, and on the booking benchmark
    the socket writes of round trips were the largest part of the bot's CPU per update. A tenant's
    FSM keys have exactly one writer, the one process serving the tenant (a slot serves one tenant,
    a tenant has one slot), so the last data this process wrote or read is the data in Redis: reads
    are served from here after the first, and every write still goes to Redis first (durable, so a
    move to another slot continues where the user was). The cache holds the stored text and decodes
    it on each read, so a caller changing the dict it got cannot change the cache. At most ``CACHED``
    keys, least recently used dropped first.

    The state is not cached: aiogram reads it first thing in every update, and that read is what
    tells a user at once that Redis is away (the error boundary's apology) before a handler shows
    them a screen whose next step could not be saved.

    ``Dispatcher`` closes its storage when polling stops; the stock storage would close the
    connection pool the runtime shares with other code, so ``close`` does nothing.
    """

    #: Users' data kept in the cache.
    CACHED = 4096

    def __init__(self, redis: aioredis.Redis, *, key_builder: DefaultKeyBuilder) -> None:
        """Use ``redis`` (the runtime's client) with ``key_builder``'s key names, as aiogram's storage does."""
        super().__init__(redis, key_builder=key_builder)
        self._data: OrderedDict[str, str | None] = OrderedDict()

    def _remember(self, redis_key: str, text: str | None) -> None:
        self._data[redis_key] = text
        self._data.move_to_end(redis_key)
        while len(self._data) > self.CACHED:
            self._data.popitem(last=False)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        """Write the data to Redis, then remember it as stored."""
        await super().set_data(key, data)
        self._remember(self.key_builder.build(key, "data"), self.json_dumps(data) if data else None)

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        """The user's data, decoded afresh from the cached text (from Redis the first time)."""
        redis_key = self.key_builder.build(key, "data")
        if redis_key in self._data:
            self._data.move_to_end(redis_key)
            text = self._data[redis_key]
        else:
            value = await self.redis.get(redis_key)
            text = value.decode("utf-8") if isinstance(value, bytes) else value
            self._remember(redis_key, text)
        return {} if text is None else cast(dict[str, Any], self.json_loads(text))

    async def close(self) -> None:
        """Do nothing: the runtime owns and closes the Redis client."""


def create_dispatcher(
    *,
    db: asyncpg.Pool,
    redis: aioredis.Redis,
    key_prefix: str,
    config: BookingConfig,
    clock: Clock | None = None,
    first: Sequence[BaseMiddleware] = (),
) -> Dispatcher:
    """Build the tenant's dispatcher: FSM in Redis under ``key_prefix``, routers, middlewares, error boundary.

    ``first`` are update middlewares that must run before the booking bot's
    own (the runtime's rate limit: a flood is refused before it costs a
    database query). Whatever fails, in them, in aiogram's FSM storage or in
    a handler, ends in the error boundary: the user is answered, never left
    in silence.

    Router order matters: commands and menu buttons first (they work in any
    state), then the owner's panel, the booking flow, "my bookings", and
    last the fallback that answers everything nobody else handled.
    """
    pin_response_models()
    storage = SharedRedisStorage(
        redis,
        key_builder=DefaultKeyBuilder(prefix=f"{key_prefix}fsm", with_bot_id=True, with_destiny=True),
    )
    service = BookingService(pool=db, config=config, clock=clock, alert_buttons=alert_markup)
    # One user's updates are handled one at a time, in order, and aiogram's FSM middleware reads the
    # user's state only after taking that user's lock: a tap and a message sent together are routed
    # with the state the tap left (an outer middleware of ours would run after the state was read).
    # In-process locks suffice: a slot serves one tenant from one process.
    dp = Dispatcher(storage=storage, events_isolation=SimpleEventIsolation(), name=f"booking:{config.tenant_id}")
    dp["svc"] = service
    dp["config"] = config
    # aiogram's own ErrorsMiddleware is the outermost update middleware (it wraps the FSM middleware,
    # which reads Redis, and everything after it): our boundary is its error handler.
    dp.errors.register(ErrorBoundary(config, db).handle)
    for middleware in first:
        dp.update.outer_middleware(middleware)
    dp.update.outer_middleware(ContextMiddleware(service))
    dp.update.outer_middleware(PausedGate(db, config, service.clock))  # the grace period after the paid one
    dp.include_routers(
        *(
            spec.build()
            for spec in (
                common.router,
                admin.entry,
                *admin.ROUTERS,
                booking.router,
                my.router,
                fallback.router,
            )
        )
    )
    return dp
