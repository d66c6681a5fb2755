"""Assembly of the YooKassa stand-in application, shared by tests, the CLI entry point and demos.

One ``World`` (shops, payments) and one ``Notifier`` (deliveries) serve both the v3 API the SDK calls and
the control API tests call; the notifier is closed with the app so no redelivery outlives the server.
"""

from __future__ import annotations

from aiohttp import web

from devstack.standins.yookassa.api import PaymentsApi
from devstack.standins.yookassa.control import ControlApi
from devstack.standins.yookassa.notify import Notifier
from devstack.standins.yookassa.state import World

WORLD_KEY: web.AppKey[World] = web.AppKey("yookassa_world", World)
NOTIFIER_KEY: web.AppKey[Notifier] = web.AppKey("yookassa_notifier", Notifier)


def create_app(
    world: World | None = None, *, first_retry_s: float = 0.2, max_retry_s: float = 2.0, max_attempts: int = 30,
) -> web.Application:
    """Build the stand-in: ``/v3/payments...``, ``/control/...`` and ``/checkout/{id}``.

    The redelivery backoff starts at ``first_retry_s``, doubles up to ``max_retry_s`` and stops after
    ``max_attempts`` (YooKassa itself keeps trying for 24 hours; a test run cannot wait that long).
    """
    world = world or World()
    notifier = Notifier(world.touch, first_retry_s=first_retry_s, max_retry_s=max_retry_s, max_attempts=max_attempts)
    world.on_event = notifier.submit
    app = web.Application()
    app[WORLD_KEY] = world
    app[NOTIFIER_KEY] = notifier
    PaymentsApi(world).register(app)
    ControlApi(world, notifier).register(app)

    async def close_notifier(_: web.Application) -> None:
        await notifier.close()

    app.on_cleanup.append(close_notifier)
    return app


def create_runner(app: web.Application, *, access_log: bool = False) -> web.AppRunner:
    """Wrap the app in a runner that cancels abandoned long polls and shuts down quickly.

    The access log shows method, path and status only; it never includes headers (Basic credentials).
    """
    if access_log:
        return web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0)
    return web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1.0, access_log=None)
