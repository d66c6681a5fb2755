"""The tenant's booking bot, as the runtime sees it: migrations, a dispatcher factory, a reminder worker.

The runtime connects a pool whose search_path is the tenant's schema, applies
``MIGRATIONS`` there, then calls ``create_dispatcher`` and starts polling next
to ``ReminderWorker.run``. Everything the bot knows lives in that schema and
in Redis under ``key_prefix`` (the FSM), so the bot can stop at any moment
and continue in another process.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import redis.asyncio as aioredis
from aiogram import BaseMiddleware, Dispatcher
from aiogram.fsm.storage.base import DefaultKeyBuilder
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
    """aiogram's Redis FSM storage that leaves the runtime's Redis client open on shutdown.

    ``Dispatcher`` closes its storage when polling stops; the stock storage
    would close the connection pool the runtime shares with other code.
    """

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
