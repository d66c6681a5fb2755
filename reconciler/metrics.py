"""Prometheus metrics of a reconciler and the small HTTP server that serves them (``/metrics``).

The reconciler is not a Nomad job (the local stack runs it as a process, and
any number may run), so nothing registers a port for it. It already
registers itself in Consul for the leader election (service
``botpool-reconciler-election``, one instance per process, gone with the
process); that registration carries this server's port and the tag
``metrics`` (``botpool.leader.LeaderElection``'s ``metrics_port``), which is
how Prometheus finds every reconciler. The port defaults to 0 (any free
one), so several reconcilers on one machine never collide.

Every instance serves metrics, leader or not, so the sum of
``botpool_reconciler_leader`` over all of them says whether one leads. The
leader gauge is read from the election at scrape time, so it is never stale.
The registry is private, so two reconcilers in one test process do not collide.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Every kind of repair a pass makes (each starts at 0, so a rate over a quiet hour is 0, not absent).
REPAIR_KINDS = (
    "release_expired", "release_undesired", "drop_orphan_claim", "mark_active", "move", "drop_reservation",
    "reactivate_unassigned", "reactivate_slot_gone", "reactivate_slot_restarted", "reactivate_slot_refused",
    "reactivate_not_acknowledged",
)


class MetricsSettings(BaseSettings):
    """Where the reconciler serves ``/metrics``: loopback by default, ``0.0.0.0`` on a node Prometheus scrapes."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    host: str = Field("127.0.0.1", alias="BOTPOOL_RECONCILER_METRICS_HOST")
    #: 0 picks a free port; Consul learns the one bound.
    port: int = Field(0, alias="BOTPOOL_RECONCILER_METRICS_PORT", ge=0, le=65535)


class ReconcilerMetrics:
    """Repairs by kind and leadership, in one registry."""

    def __init__(self, instance: str) -> None:
        """Create the series of reconciler ``instance`` (not leading until told otherwise)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.instance = instance
        self.repairs = Counter("botpool_reconciler_repairs", "Repairs the reconciler made, by kind.", ["kind"],
                               registry=self.registry)
        self.leader = Gauge("botpool_reconciler_leader", "1 while this instance holds the reconciler lock.",
                            ["instance"], registry=self.registry)
        for kind in REPAIR_KINDS:
            self.repairs.labels(kind)
        self.leader.labels(instance).set(0)

    def repaired(self, kind: str) -> None:
        """Count one repair of ``kind``."""
        self.repairs.labels(kind).inc()

    def follow_leader(self, leading: Callable[[], bool]) -> None:
        """Read the leader gauge from ``leading`` at each scrape."""
        self.leader.labels(self.instance).set_function(lambda: 1.0 if leading() else 0.0)

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)


class MetricsServer:
    """An aiohttp server with ``/metrics``."""

    def __init__(self, metrics: ReconcilerMetrics, host: str, port: int) -> None:
        """Serve ``metrics`` on ``host:port`` once started (port 0: any free port)."""
        self.metrics = metrics
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def _serve(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> int:
        """Start serving; returns the bound port (the one to register when asked for port 0)."""
        app = web.Application()
        app.router.add_get("/metrics", self._serve)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
