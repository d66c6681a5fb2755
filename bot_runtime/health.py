"""The slot's HTTP health endpoint, probed by Consul; its body is what the Consul UI shows.

Consul stores the first part of a check's response body as the check output,
so ``WAITING`` or ``ACTIVE tenant=t_x @bot`` is visible at a glance in the UI.
It is not always-OK (defect 13 of the earlier implementation): an ACTIVE slot
whose bot stopped polling answers 503, which makes Consul mark it critical, so
the slot drops out of the pool and the reconciler moves the tenant.

A third state sits between the two: an ACTIVE slot whose bot runs but cannot
reach PostgreSQL or Redis answers 429, which Consul's HTTP check records as
"warning" (2xx passing, 429 warning, anything else critical). A warning keeps
the slot in the pool, so the reconciler leaves the tenant in place: a
shared service being down hits every slot alike, and moving every tenant to
slots that cannot reach it either would only add churn to the outage.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Health(IntEnum):
    """What the slot tells Consul, as the HTTP status Consul's check maps to passing, warning or critical."""

    PASSING = 200
    #: Serving, but a dependency is down: users get an apology; Consul shows "warning"; the slot stays in the pool.
    DEGRADED = 429
    #: Not serving: Consul marks the check critical, the slot drops out and the tenant moves.
    FAILING = 503


Probe = Callable[[], tuple[Health, str]]
#: The exposition text of the slot's metrics (``bot_runtime.metrics``), served as ``/metrics`` beside ``/health``.
Render = Callable[[], bytes]


class HealthServer:
    """A tiny aiohttp server on the slot's Nomad port: ``/health`` for Consul, ``/metrics`` for Prometheus."""

    def __init__(self, port: int, probe: Probe, metrics: Render | None = None) -> None:
        self._port = port
        self._probe = probe
        self._metrics = metrics
        self._runner: web.AppRunner | None = None

    async def _health(self, _request: web.Request) -> web.Response:
        health, text = self._probe()
        return web.Response(status=int(health), text=text)

    async def _render_metrics(self, _request: web.Request) -> web.Response:
        assert self._metrics is not None
        return web.Response(body=self._metrics(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        """Start listening on loopback-or-all as Nomad's network says (the port is Nomad's)."""
        app = web.Application()
        app.router.add_get("/health", self._health)
        if self._metrics is not None:
            app.router.add_get("/metrics", self._render_metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "0.0.0.0", self._port).start()

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
