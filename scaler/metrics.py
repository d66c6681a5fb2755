"""Prometheus metrics and the scaler's small HTTP server (``/metrics`` for scraping, ``/health`` for Nomad).

Every instance serves metrics, leader or not, so a scrape shows which one
leads (``botpool_scaler_leader``) and a standby is visibly alive. The pool
gauges are written by the leader from each reading; a standby leaves them at
their last value and reports ``botpool_scaler_leader 0``, so dashboards should
select the leader's series. The registry is private (not prometheus-client's
global one), so two scalers in one test process do not collide.
"""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from scaler.source import PoolReading
from scaler.strategy import Action, Decision, Reason


class ScalerMetrics:
    """The scaler's gauges and counters in one registry."""

    def __init__(self, instance: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.instance = instance
        self.free = Gauge("botpool_pool_free", "Healthy WAITING unclaimed slots a buyer can get now.",
                          registry=self.registry)
        self.busy = Gauge("botpool_pool_busy", "Slots holding a tenant (claimed, activating or active).",
                          registry=self.registry)
        self.active = Gauge("botpool_pool_active", "Slots whose tenant bot is running.", registry=self.registry)
        self.pending = Gauge("botpool_pool_pending", "Slots Nomad was asked for that are not healthy in Consul yet.",
                             registry=self.registry)
        self.total = Gauge("botpool_pool_total", "The pool group's desired count in Nomad.", registry=self.registry)
        self.utilisation = Gauge("botpool_pool_utilisation", "Busy slots over the group's count.",
                                 registry=self.registry)
        self.max_total = Gauge("botpool_pool_max_total",
                               "The scaler's cap on the group's count (MAX_TOTAL_BOTS): no scale-up goes past it.",
                               registry=self.registry)
        self.min_free = Gauge("botpool_pool_min_free", "Free slots the scaler keeps ready (MIN_FREE_BOTS).",
                              registry=self.registry)
        self.leader = Gauge("botpool_scaler_leader", "1 while this instance holds the scaler lock.",
                            ["instance"], registry=self.registry)
        self.scale_events = Counter(
            "botpool_scaler_scale_events", "Scale requests Nomad accepted, by direction and reason.",
            ["direction", "reason"], registry=self.registry,
        )
        self.scale_failures = Counter(
            "botpool_scaler_scale_failures", "Scale attempts that failed or were aborted, by cause.",
            ["cause"], registry=self.registry,
        )
        self.decisions = Counter("botpool_scaler_decisions", "Decisions taken, by action and reason.",
                                 ["action", "reason"], registry=self.registry)
        self.last_decision = Gauge(
            "botpool_scaler_last_decision", "1 for the action and reason of the latest decision, 0 for the others.",
            ["action", "reason"], registry=self.registry,
        )
        self.last_decision_time = Gauge("botpool_scaler_last_decision_timestamp_seconds",
                                        "When the latest decision was taken.", registry=self.registry)
        self.reaction = Gauge("botpool_scaler_reaction_seconds",
                              "Latest time from reading a shortage to Nomad accepting the scale-up.",
                              registry=self.registry)
        self.alerts = Counter(
            "botpool_scaler_alerts", "Alert conditions that began (operators hear of them from Prometheus's rules).",
            ["kind"], registry=self.registry,
        )
        self.leader.labels(instance).set(0)
        self._last_labels: tuple[str, str] | None = None

    def observe(self, reading: PoolReading) -> None:
        """Publish one reading's counts."""
        self.free.set(reading.free)
        self.busy.set(reading.busy)
        self.active.set(reading.active)
        self.pending.set(reading.pending)
        self.total.set(reading.desired)
        self.utilisation.set(reading.utilisation)

    def decided(self, decision: Decision) -> None:
        """Record a decision: count it and make it the 'last decision'."""
        labels = (decision.action.value, decision.reason.value)
        self.decisions.labels(*labels).inc()
        if self._last_labels is not None and self._last_labels != labels:
            self.last_decision.labels(*self._last_labels).set(0)
        self.last_decision.labels(*labels).set(1)
        self._last_labels = labels
        self.last_decision_time.set(time.time())

    def scaled(self, action: Action, reason: Reason) -> None:
        """Count a scale request Nomad accepted."""
        self.scale_events.labels(action.value, reason.value).inc()

    def configured(self, *, max_total: int, min_free: int) -> None:
        """Publish the scaler's limits, so alerts and dashboards compare the pool against them."""
        self.max_total.set(max_total)
        self.min_free.set(min_free)

    def set_leader(self, leading: bool) -> None:
        """Flip the leader gauge."""
        self.leader.labels(self.instance).set(1 if leading else 0)

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)


class MetricsServer:
    """An aiohttp server with ``/metrics`` and ``/health`` (200 while the process runs its loop)."""

    def __init__(self, metrics: ScalerMetrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def _metrics(self, _request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _health(self, _request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def start(self) -> int:
        """Start serving; returns the bound port (useful with port 0)."""
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
