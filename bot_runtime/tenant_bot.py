"""Run one tenant's bot inside a slot, and take it down without leaving a trace of the tenant.

Starting verifies the token with getMe (a revoked or mistyped token is
refused, never run), connects to PostgreSQL as the tenant's own role and to
Redis as the tenant's own ACL user, applies the booking migrations in the
tenant's schema, and starts long polling. Stopping ends polling and closes
every connection; the slot keeps no reference to the tenant's credentials.

The tenant side (asyncpg, redis, the booking bot) is not imported while the
slot joins the pool, so a new slot becomes healthy as fast as possible. Right
after joining, ``prewarm`` imports it and builds one throwaway dispatcher in a
worker thread. Those are one-time costs of about 0.45 s of CPU per process
(imports, then aiogram inspecting every handler's signature the first time),
and paid inside an activation they were most of the time from payment to the
bot's first answer: with 20 buyers paying within a second on two cores, 20
slots paid them at once (bench/purchase.py: p99 7.5 s). A warmed slot is about
14 MB larger; ``SLOT_PREWARM=false`` trades that latency back for the memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramUnauthorizedError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

from bot_runtime.dependencies import DependencyWatch
from bot_runtime.fence import PauseFence
from bot_runtime.metrics import SlotMetrics
from bot_runtime.settings import RuntimeSettings
from botpool import botapi
from botpool.errors import ActivationFailed, InvalidBotToken
from botpool.logs import redact
from botpool.tenancy.package import TenantPackage

if TYPE_CHECKING:
    import asyncpg
    import redis.asyncio as aioredis


def prewarm() -> None:
    """Pay the tenant side's one-time costs now, while waiting, instead of inside a buyer's activation.

    Imports what ``TenantBot.start`` imports, builds the Bot API validators the bot needs first
    (``lazytypes.warm``) and a dispatcher for a placeholder tenant, which makes aiogram and pydantic do
    their first-use work (handler signatures, generic response models). Nothing
    connects anywhere: the Redis client is never used, and the dispatcher is dropped.
    """
    from typing import Any, cast

    import redis.asyncio as aioredis

    import bot_runtime.ratelimit  # noqa: F401 - imported for its one-time cost
    import botpool.clients.postgres
    import botpool.db.migrations
    import botpool.tenancy.provision  # noqa: F401 - imported for its one-time cost
    from bot_runtime.booking import BookingConfig, create_dispatcher
    from botpool import lazytypes

    lazytypes.warm()

    config = BookingConfig(tenant_id="t_prewarm", company_name="prewarm", admin_telegram_id=1)
    create_dispatcher(db=cast(Any, None), redis=aioredis.Redis(), key_prefix="prewarm:", config=config)


@dataclass
class _Running:
    bot: Bot
    dispatcher: Dispatcher
    db: asyncpg.Pool
    redis: aioredis.Redis
    polling: asyncio.Task[None]
    reminders: asyncio.Task[None]
    watch: DependencyWatch
    watching: asyncio.Task[None]
    stop_reminders: asyncio.Event
    token: TokenWatch


class TokenWatch(BaseRequestMiddleware):
    """Notices Telegram refusing a running bot's token, as after its owner revoked it in @BotFather.

    aiogram's polling retries a failed getUpdates forever, a 401 too, so without
    this a bot whose token was revoked would still look alive to the slot's
    health check and stay silent for good. Once seen, the slot reports the bot
    failing, the reconciler tries the tenant elsewhere, getMe is refused there
    too, and the tenant is failed as having an invalid token, which the sales
    bot tells its buyer (with the way to send a new one).
    """

    def __init__(self) -> None:
        """Nothing refused yet."""
        self.rejected = False

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        """Pass the call on; remember a 401 before re-raising it."""
        try:
            return await make_request(bot, method)
        except TelegramUnauthorizedError:
            self.rejected = True
            raise


class TenantBot:
    """One tenant's bot: started on assignment, stopped on release."""

    def __init__(
        self, settings: RuntimeSettings, fence: PauseFence | None = None, metrics: SlotMetrics | None = None
    ) -> None:
        self._settings = settings
        self._fence = fence
        self._metrics = metrics
        self._running: _Running | None = None
        self.tenant_id: str | None = None
        self.username: str | None = None

    @property
    def healthy(self) -> bool:
        """True while polling, reminders and the dependency watch run and Telegram still accepts the token.

        A crash or a revoked token: an unhealthy slot, and the tenant moves (or, its token refused
        everywhere, fails).
        """
        r = self._running
        return (
            r is not None and not r.polling.done() and not r.reminders.done() and not r.watching.done()
            and not r.token.rejected
        )

    @property
    def token_rejected(self) -> bool:
        """Whether Telegram refused the running bot's token (revoked in @BotFather)."""
        return self._running is not None and self._running.token.rejected

    @property
    def dependencies_down(self) -> tuple[str, ...]:
        """Services the running bot cannot reach right now ("postgres", "redis"): the slot reports itself degraded."""
        r = self._running
        return r.watch.down if r is not None else ()

    async def start(self, package: TenantPackage) -> str:
        """Start the tenant's bot and return its @username; raises ``InvalidBotToken`` or ``ActivationFailed``."""
        import redis.asyncio as aioredis  # tenant side: imported on first activation

        from bot_runtime.booking import MIGRATIONS, BookingConfig, ReminderWorker, create_dispatcher
        from bot_runtime.ratelimit import RateLimitMiddleware
        from botpool.clients.postgres import create_pool, keep_session
        from botpool.db import migrations
        from botpool.tenancy.provision import redis_prefix

        s = self._settings
        session = botapi.session(str(s.telegram_api_base))
        bot = Bot(package.bot_token.get_secret_value(), session=session)
        token = TokenWatch()
        session.middleware(token)
        first: list[BaseMiddleware] = []
        if self._fence is not None:
            self._fence.rearm()
            session.middleware(self._fence.requests())
            first.append(self._fence.updates())
        if self._metrics is not None:
            first.append(self._metrics.updates_middleware())
        db: asyncpg.Pool | None = None
        redis: aioredis.Redis | None = None
        try:
            try:
                me = await bot.get_me()
            except TelegramUnauthorizedError:
                raise InvalidBotToken(f"Telegram rejected the bot token of tenant {package.tenant_id}") from None
            db = await create_pool(
                host=s.tenant_pg_host, port=s.tenant_pg_port, database=s.tenant_pg_database,
                user=package.tenant_id, password=package.db_password.get_secret_value(),
                min_size=1, max_size=4, reset=keep_session,
                server_settings={"search_path": f"{package.tenant_id}, public", "application_name": "botpool-slot"},
            )
            async with db.acquire() as conn:
                await migrations.apply(conn, package.tenant_id, MIGRATIONS)
            redis = aioredis.Redis(
                host=s.tenant_redis_host, port=s.tenant_redis_port,
                username=package.tenant_id, password=package.redis_password.get_secret_value(),
                health_check_interval=5,  # a connection idle 5 s is pinged first: a Redis restart costs no update
                driver_info=None,  # no CLIENT SETINFO: the tenant's user may not run it (its ACL allowlist)
            )
            await redis.ping()
            prefix = redis_prefix(package.tenant_id)
            config = BookingConfig(
                tenant_id=package.tenant_id, company_name=package.company_name,
                admin_telegram_id=package.admin_telegram_id, timezone=package.timezone, language=package.language,
            )
            limit = RateLimitMiddleware(
                redis, prefix, user_per_min=s.user_rate_per_min, tenant_per_s=s.tenant_rate_per_s
            )
            dispatcher = create_dispatcher(db=db, redis=redis, key_prefix=prefix, config=config, first=[*first, limit])
            if self._metrics is not None:
                dispatcher.errors.outer_middleware(self._metrics.errors_middleware())
            polling = asyncio.create_task(
                dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=25),
                name=f"polling-{package.tenant_id}",
            )
            stop_reminders = asyncio.Event()
            reminders = asyncio.create_task(
                ReminderWorker(bot=bot, db=db, config=config).run(stop_reminders), name=f"reminders-{package.tenant_id}"
            )
            watch = DependencyWatch(db, redis)
            watching = asyncio.create_task(watch.run(stop_reminders), name=f"dependencies-{package.tenant_id}")
        except InvalidBotToken:
            await _close(bot, db, redis)
            raise
        except Exception as exc:
            await _close(bot, db, redis)
            reason = redact(str(exc))[:200]
            raise ActivationFailed(
                f"could not start tenant {package.tenant_id}: {type(exc).__name__}: {reason}"
            ) from None
        self._running = _Running(
            bot, dispatcher, db, redis, polling, reminders, watch, watching, stop_reminders, token
        )
        self.tenant_id, self.username = package.tenant_id, me.username
        return me.username or ""

    async def stop(self) -> None:
        """Stop polling and close every tenant connection; safe to call when nothing runs."""
        running, self._running = self._running, None
        self.tenant_id = self.username = None
        if running is None:
            return
        running.stop_reminders.set()
        with contextlib.suppress(Exception):
            await running.dispatcher.stop_polling()
        for task in (running.polling, running.reminders, running.watching):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await running.dispatcher.storage.close()
        await _close(running.bot, running.db, running.redis)


async def _close(bot: Bot, db: asyncpg.Pool | None, redis: aioredis.Redis | None) -> None:
    with contextlib.suppress(Exception):
        await bot.session.close()
    if db is not None:
        with contextlib.suppress(Exception):
            await db.close()
    if redis is not None:
        with contextlib.suppress(Exception):
            await redis.aclose()
