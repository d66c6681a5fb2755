"""Assembly of the Telegram stand-in application and the helpers to run it.

Kept separate from the routes so tests, the CLI entry point and demos build the exact same app, and so
the token-redacting access logger is shared by every way of running it.
"""

from __future__ import annotations

import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

from botpool.logs import redact
from devstack.standins.telegram.botapi import BotApi
from devstack.standins.telegram.control import ControlApi
from devstack.standins.telegram.state import World

access_log = structlog.get_logger("devstack.standins.telegram.access")

WORLD_KEY: web.AppKey[World] = web.AppKey("telegram_world", World)
BOTAPI_KEY: web.AppKey[BotApi] = web.AppKey("telegram_botapi", BotApi)

#: Generous body limit so multipart uploads from aiogram do not fail before reaching a handler.
CLIENT_MAX_SIZE = 50 * 1024 * 1024


class RedactingAccessLogger(AbstractAccessLogger):
    """Access log lines with bot tokens masked, because Bot API URLs carry the token in the path.

    It writes through structlog (not aiohttp's stdlib access logger) so the lines share the stand-in's
    structured format and the shared redaction.
    """

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Write one line: client, method, redacted path and query, status and duration."""
        access_log.info(
            "request",
            remote=request.remote,
            method=request.method,
            path=redact(request.path_qs),
            status=response.status,
            seconds=round(time, 3),
        )


def create_app(world: World | None = None, *, webhook_retry_max: float = 2.0) -> web.Application:
    """Build the stand-in: Bot API routes under ``/bot{token}/`` and the control API under ``/control``.

    A ``World`` may be passed in so an embedding test can inspect state directly; by default each app
    gets a fresh, empty one.
    """
    world = world or World()
    app = web.Application(client_max_size=CLIENT_MAX_SIZE)
    botapi = BotApi(world, webhook_retry_max=webhook_retry_max)
    app[WORLD_KEY] = world
    app[BOTAPI_KEY] = botapi
    botapi.register(app)
    ControlApi(world).register(app)
    return app


def create_runner(app: web.Application, *, access_log: bool = False) -> web.AppRunner:
    """Wrap the app in a runner that cancels handlers of disconnected clients (abandoned long polls)
    and shuts down quickly, optionally with the redacting access log."""
    if access_log:
        return web.AppRunner(
            app,
            handler_cancellation=True,
            shutdown_timeout=1.0,
            access_log_class=RedactingAccessLogger,
        )
    return web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
