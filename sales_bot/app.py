"""The sales bot process: the bot (long polling), the YooKassa notification endpoint (aiohttp), the
pending-payment checker and the order watch, sharing one control plane (``botpool.wiring``).

Everything that matters is durable before it is acknowledged (orders and payments in PostgreSQL, the
conversation in Redis, pasted tokens in Vault), so the process can be killed at any moment and a new one
(or another replica) continues: the checker hands ``paid`` orders to fulfilment again and the order
watch resumes interrupted activations and sends any "ready" that was not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import redis.asyncio as aioredis
import structlog
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.fsm.storage.base import DefaultKeyBuilder
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from aiohttp import web

from botpool import botapi, wiring
from botpool import settings as cfg
from botpool.clients import redis as redis_client
from botpool.commerce import notifications
from botpool.commerce.checker import PendingChecker
from botpool.commerce.tariffs import TariffSettings
from botpool.commerce.yookassa import TrustedNetworks, YooKassaGateway, YooKassaSettings
from sales_bot.context import Sales
from sales_bot.fulfilment import Fulfiller
from sales_bot.metrics import MeasuredLedger, MeasuredOrders, SalesMetrics
from sales_bot.middlewares import ContextMiddleware, error_boundary
from sales_bot.notices import SalesPayments
from sales_bot.reminders import OwnerReminders
from sales_bot.routers import bot as bot_router
from sales_bot.routers import checkout, details, fallback, renew, start
from sales_bot.settings import SalesBotSettings
from sales_bot.texts import catalog
from sales_bot.tokens import BotTokens

log = structlog.get_logger("sales_bot")
#: How often owners' reminders are looked for (they are due days ahead; a minute late is on time).
REMINDER_INTERVAL_S = 60.0


@dataclass(frozen=True)
class SalesSettings:
    """Every setting the process reads, loaded (and refused with one line) before anything starts."""

    sales: SalesBotSettings
    plane: wiring.ControlPlaneSettings
    yookassa: YooKassaSettings
    tariffs: TariffSettings
    telegram: cfg.TelegramSettings

    @classmethod
    def load(cls) -> SalesSettings:
        """Read from the environment; raises ``ConfigurationError`` naming each bad variable."""
        return cls(
            sales=cfg.load(SalesBotSettings), plane=wiring.ControlPlaneSettings.load(),
            yookassa=cfg.load(YooKassaSettings), tariffs=cfg.load(TariffSettings),
            telegram=cfg.load(cfg.TelegramSettings),
        )


def create_dispatcher(sales: Sales, redis: aioredis.Redis, prefix: str) -> Dispatcher:
    """The dispatcher: FSM in Redis, each user's updates in order (lock first, then the state is loaded)."""
    keys = DefaultKeyBuilder(prefix=prefix, with_bot_id=True)
    dp = Dispatcher(
        storage=RedisStorage(redis, key_builder=keys),
        events_isolation=RedisEventIsolation(redis, key_builder=keys),
    )
    dp.errors.register(error_boundary)
    dp.update.outer_middleware(ContextMiddleware(sales))
    dp.include_routers(start.router, renew.router, bot_router.router, details.router, checkout.router, fallback.router)
    return dp


async def run(settings: SalesSettings) -> None:
    """Serve until SIGTERM/SIGINT; then stop polling, let activations in flight finish, close everything."""
    catalog()  # refuse to start without compiled texts
    session = botapi.session(str(settings.telegram.api_base))
    bot = Bot(settings.sales.token.get_secret_value(), session=session,
              default=DefaultBotProperties(parse_mode="HTML"))
    check_session = botapi.session(str(settings.telegram.api_base))
    # Retried on a dropped connection (botpool.clients.redis): without it each pooled connection failed one
    # buyer's update after a Redis restart (seen in tests/sales after test_outage: a managed bot's creation lost).
    fsm_redis = redis_client.from_url(settings.plane.redis.url.get_secret_value(), health_check_interval=5)
    stop = asyncio.Event()
    try:
        async with wiring.control_plane(settings.plane, db_max_size=10) as plane:
            plane.activator.pool_wait_s = settings.sales.pool_wait_s
            metrics = SalesMetrics()
            orders = MeasuredOrders(plane.db)
            orders.metrics = metrics
            ledger = MeasuredLedger(plane.db)
            ledger.metrics = metrics
            tokens = BotTokens(plane.vault, settings.plane.vault.kv_mount, bot)
            fulfiller = Fulfiller(orders=orders, activator=plane.activator, tokens=tokens, bot=bot, db=plane.db)
            payments = SalesPayments(orders, ledger, YooKassaGateway(settings.yookassa),
                                     consul=plane.consul, on_paid=fulfiller.on_paid)
            payments.bot = bot
            payments.metrics = metrics
            sales = Sales(orders=orders, payments=payments, tariffs=settings.tariffs, tokens=tokens,
                          fulfiller=fulfiller, db=plane.db, api_session=check_session)
            dp = create_dispatcher(sales, fsm_redis, settings.sales.fsm_prefix)
            app = web.Application(client_max_size=notifications.MAX_BODY_BYTES)
            notifications.add_routes(app, payments, TrustedNetworks(settings.yookassa.trusted_networks))
            app.router.add_get("/health", _health)
            metrics.add_routes(app, orders)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, settings.sales.notify_host, settings.sales.notify_port)
            await site.start()
            checker = PendingChecker(payments, interval_s=settings.yookassa.pending_check_interval_s)
            background = [
                asyncio.create_task(checker.run(stop), name="pending-checker"),
                asyncio.create_task(fulfiller.watch(stop, settings.sales.watch_interval_s), name="order-watch"),
                asyncio.create_task(OwnerReminders(fulfiller.subscriptions, bot).run(stop, REMINDER_INTERVAL_S),
                                    name="owner-reminders"),
            ]
            me = await bot.get_me()
            log.info("sales bot ready", username=me.username, notify_port=_port(site),
                     can_manage_bots=bool(getattr(me, "can_manage_bots", False)))
            try:
                await dp.start_polling(bot, handle_signals=True, close_bot_session=False, polling_timeout=25)
            finally:
                stop.set()
                await asyncio.gather(*background, return_exceptions=True)
                await fulfiller.drain()
                await payments.wait_fulfilments()
                await runner.cleanup()
    finally:
        for closing in (session.close(), check_session.close(), fsm_redis.aclose()):
            with contextlib.suppress(Exception):
                await closing


async def _health(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def _port(site: web.TCPSite) -> int | None:
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    return int(sockets[0].getsockname()[1]) if sockets else None
