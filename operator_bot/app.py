"""The operator bot process: the bot (long polling), the Alertmanager webhook (aiohttp) and the watch on
the platform's alerts in Consul, sharing one set of clients built through ``botpool.wiring``.

It holds no Vault token and no Redis credential: it reads the pool (Consul and Nomad), reads the control
schema, scales the pool job through the same safe override as ``botpool scale``, and writes only its
delivery markers and scale-in fences in Consul (docs/operator.md lists why each right is needed).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import structlog
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiohttp import web

from botpool import botapi, wiring
from botpool import settings as cfg
from botpool.pool.reading import PoolSource
from botpool.pool.scaling import PoolTarget
from operator_bot import platform_alerts
from operator_bot.alertmanager import MAX_BODY_BYTES, AlertmanagerReceiver
from operator_bot.confirmations import Confirmations
from operator_bot.context import Ops
from operator_bot.delivery import Notifier
from operator_bot.middlewares import GateMiddleware, error_boundary
from operator_bot.routers import fallback, orders, pool, scale, start, tenants
from operator_bot.settings import OperatorBotSettings
from operator_bot.texts import catalog, tr_for

log = structlog.get_logger("operator_bot")


@dataclass(frozen=True)
class OperatorSettings:
    """Every setting the process reads, loaded (and refused with one line) before anything starts."""

    bot: OperatorBotSettings
    consul: cfg.ConsulSettings
    nomad: cfg.NomadSettings
    database: cfg.DatabaseSettings
    telegram: cfg.TelegramSettings

    @classmethod
    def load(cls) -> OperatorSettings:
        """Read from the environment; raises ``ConfigurationError`` naming each bad variable."""
        return cls(
            bot=cfg.load(OperatorBotSettings), consul=cfg.load(cfg.ConsulSettings),
            nomad=cfg.load(cfg.NomadSettings), database=cfg.load(cfg.DatabaseSettings),
            telegram=cfg.load(cfg.TelegramSettings),
        )


def create_dispatcher(ops: Ops) -> Dispatcher:
    """The dispatcher: the admin gate before every router, the error boundary after all of them."""
    dp = Dispatcher()
    dp.errors.register(error_boundary)
    dp.update.outer_middleware(GateMiddleware(ops))
    dp.include_routers(start.router, pool.router, tenants.router, orders.router, scale.router, fallback.router)
    return dp


async def run(settings: OperatorSettings) -> None:
    """Serve until SIGTERM/SIGINT; then stop polling and the watch, close everything."""
    catalog()  # refuse to start without compiled texts
    session = botapi.session(str(settings.telegram.api_base))
    bot = Bot(settings.bot.token.get_secret_value(), session=session,
              default=DefaultBotProperties(parse_mode="HTML"))
    stop = asyncio.Event()
    try:
        async with contextlib.AsyncExitStack() as stack:
            consul = await stack.enter_async_context(wiring.consul(settings.consul))
            nomad = await stack.enter_async_context(wiring.nomad(settings.nomad))
            db = await stack.enter_async_context(wiring.database(settings.database, max_size=3))
            source = PoolSource(consul, nomad, job=settings.bot.job, group=settings.bot.group)
            target = PoolTarget(consul, nomad, source, instance="operator-bot")
            ops = Ops(settings=settings.bot, consul=consul, nomad=nomad, db=db, source=source, target=target,
                      confirmations=Confirmations())
            dp = create_dispatcher(ops)
            notifier = Notifier(bot, consul, settings.bot.admins)
            tr = tr_for(settings.bot.language)
            token = settings.bot.webhook_token
            app = web.Application(client_max_size=MAX_BODY_BYTES)
            AlertmanagerReceiver(notifier, tr, token.get_secret_value() or None if token else None).add_routes(app)
            app.router.add_get("/health", _health)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            site = web.TCPSite(runner, settings.bot.webhook_host, settings.bot.webhook_port)
            await site.start()
            watch = asyncio.create_task(
                platform_alerts.watch(consul, notifier, tr, stop, wait=settings.bot.alert_wait), name="alert-watch"
            )
            me = await bot.get_me()
            log.info("operator bot ready", username=me.username, admins=len(settings.bot.admins),
                     webhook_port=settings.bot.webhook_port)
            try:
                await dp.start_polling(bot, handle_signals=True, close_bot_session=False, polling_timeout=25)
            finally:
                stop.set()
                watch.cancel()
                await asyncio.gather(watch, return_exceptions=True)
    finally:
        with contextlib.suppress(Exception):
            await session.close()


async def _health(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})
