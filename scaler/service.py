"""The scaler service: campaign for leadership, and while leading, decide the moment anything changes.

The earlier monitor looked every 30 s, so a burst of buyers could empty the
pool for up to 30 s before anything happened. Here three blocking queries run
side by side and each wakes the decision loop as soon as its answer changes:

- Consul KV ``botpool/pool/`` (slot states and claims: a buyer's claim lands
  here first);
- Consul health of ``bot-pool-slot`` (a slot turning healthy or critical);
- Nomad ``GET /v1/job/bot-pool/scale`` (the count changed, allocations placed).

``CHECK_INTERVAL`` is only the safety net for a missed or stuck watch. Each
wake-up takes a fresh reading of both systems (a few ms), decides with the
pure ``strategy.decide``, and applies the decision through ``target``; one
loop does all of it, so two triggers for one shortage are serialised and the
second one sees the first one's scale-up as pending capacity. Only the leader
runs this loop; a standby keeps its candidacy and its ``/metrics`` alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from consul.aio import Consul

from botpool.clients.nomad import NomadClient, NomadError
from botpool.errors import BotpoolError
from botpool.leader import LeaderElection
from botpool.pool import keys, protocol
from scaler.metrics import MetricsServer, ScalerMetrics
from scaler.settings import ScalerSettings
from scaler.source import PoolReading, PoolSource
from scaler.strategy import Action, AlertKind, Decision, decide
from scaler.target import PoolTarget

log = structlog.get_logger("scaler")

#: Blocking-query wait: below the HTTP clients' own timeouts (Nomad adds up to wait/16 of jitter).
WATCH_WAIT = "20s"
#: Pause after an error in a watcher or in the loop before trying again.
ERROR_PAUSE_S = 1.0


async def _first(*aws: Awaitable[Any]) -> None:
    """Wait until the first of several awaitables completes; cancel the ones this call wrapped (not given tasks)."""
    owned = [not isinstance(a, asyncio.Future) for a in aws]
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task, mine in zip(tasks, owned, strict=True):
            if mine and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


class Scaler:
    """One scaler instance (any number may run; the Consul lock picks the one that scales)."""

    def __init__(
        self,
        settings: ScalerSettings,
        consul: Consul,
        nomad: NomadClient,
        *,
        metrics: ScalerMetrics | None = None,
    ) -> None:
        self.settings = settings
        self.consul = consul
        self.nomad = nomad
        self.metrics = metrics or ScalerMetrics(settings.instance)
        self.metrics.configured(max_total=settings.max_total, min_free=settings.min_free)
        self.source = PoolSource(consul, nomad, job=settings.job, group=settings.group)
        self.election = LeaderElection(
            consul, instance=settings.instance, role="scaler", session_ttl_s=settings.session_ttl_s,
            liveness_ttl_s=settings.liveness_ttl_s, lock_delay_s=settings.lock_delay_s,
        )
        self.target = PoolTarget(
            consul, nomad, self.source, instance=settings.instance, is_leader=self.election.confirm
        )
        self.metrics_port: int | None = None
        self._changed = asyncio.Event()
        self._raised: set[AlertKind] = set()
        self._last_logged: tuple[object, ...] | None = None
        self._shrink_paused_until = 0.0
        self._shortage_seen_at: float | None = None

    # ------------------------------------------------------------------- run
    async def run(self, stop: asyncio.Event) -> None:
        """Serve metrics, campaign, and lead whenever elected, until ``stop`` is set; then resign."""
        server = MetricsServer(self.metrics, self.settings.metrics_host, self.settings.metrics_port)
        self.metrics_port = await server.start()
        log.info(
            "scaler started", instance=self.settings.instance, metrics_port=self.metrics_port,
            job=self.settings.job, group=self.settings.group, min_free=self.settings.min_free,
            batch=self.settings.batch, max_total=self.settings.max_total, max_free=self.settings.max_free,
            check_interval_s=self.settings.check_interval_s, scale_in_cooldown_s=self.settings.scale_in_cooldown_s,
        )
        campaign = asyncio.create_task(self.election.run(), name="scaler-election")
        try:
            while not stop.is_set():
                await _first(self.election.wait_leading(), stop.wait(), campaign)
                if stop.is_set() or campaign.done():
                    break
                self.metrics.set_leader(True)
                lead = asyncio.create_task(self._lead(), name="scaler-lead")
                await _first(self.election.wait_following(), stop.wait(), lead, campaign)
                lead.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lead
                self.metrics.set_leader(False)
            if campaign.done():
                campaign.result()
        finally:
            campaign.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await campaign
            await self.election.resign()
            self.metrics.set_leader(False)
            await server.stop()
            log.info("scaler stopped", instance=self.settings.instance)

    def kick(self) -> None:
        """Something changed: decide again now."""
        self._changed.set()

    async def _lead(self) -> None:
        log.info("leading: watching Consul and Nomad", instance=self.settings.instance)
        watchers = [
            asyncio.create_task(self._watch(self._watch_pool, "consul kv")),
            asyncio.create_task(self._watch(self._watch_health, "consul health")),
            asyncio.create_task(self._watch(self._watch_nomad, "nomad scale status")),
        ]
        try:
            await self._loop()
        finally:
            for task in watchers:
                task.cancel()
            for task in watchers:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _loop(self) -> None:
        self._changed.set()  # a new leader decides at once, from the cluster's state
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
            # arrives just as the event fires (gh-86296), and a stopping scaler then never stopped.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.check_interval_s):
                    await self._changed.wait()
            self._changed.clear()
            try:
                await self.reconcile()
            except (TimeoutError, BotpoolError, OSError) as exc:
                log.warning("reading or scaling failed; retrying", error=str(exc))
                await asyncio.sleep(ERROR_PAUSE_S)
                self._changed.set()
            except Exception as exc:  # py-consul's HTTP errors have their own types; never let the loop die
                log.exception("unexpected error in the decision loop", error=repr(exc))
                await asyncio.sleep(ERROR_PAUSE_S)
                self._changed.set()

    # -------------------------------------------------------------- watchers
    async def _watch(self, watch: Callable[[], Awaitable[None]], name: str) -> None:
        """Run a watch forever, restarting it after errors (a failed watch must not stop the others)."""
        while True:
            try:
                await watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("watch failed; restarting", watch=name, error=repr(exc))
                self.kick()
                await asyncio.sleep(ERROR_PAUSE_S)

    async def _watch_pool(self) -> None:
        async for _snap in protocol.watch(self.consul, wait=WATCH_WAIT):
            self.kick()

    async def _watch_health(self) -> None:
        index: int | None = None
        while True:
            new_index, _ = await self.consul.health.checks(keys.SLOT_SERVICE, index=index, wait=WATCH_WAIT)
            new_index = int(new_index)
            if index is None or new_index != index:
                self.kick()
            index = new_index if index is None or new_index >= index else None

    async def _watch_nomad(self) -> None:
        index = 0
        while True:
            try:
                _, new_index = await self.nomad.scale_status(self.settings.job, index=index, wait=WATCH_WAIT)
            except NomadError as exc:
                if exc.status != 404:
                    raise
                await asyncio.sleep(min(5.0, self.settings.check_interval_s))  # no job yet: nothing to block on
                index = 0
                continue
            if new_index != index:
                self.kick()
            index = new_index if new_index >= index else 0

    # -------------------------------------------------------------- decide
    async def reconcile(self) -> Decision:
        """Read the cluster, clear finished fences, decide, raise alerts, and apply the decision."""
        reading = await self.source.read()
        if reading.fences and await self.target.sweep_fences(reading):
            reading = await self.source.read()
        self.metrics.observe(reading)
        now = time.time()
        decision = decide(reading, self.settings, now)
        if decision.action is Action.IN and time.monotonic() < self._shrink_paused_until:
            decision = Decision(Action.NONE, reading.desired, decision.reason,
                                decision.detail + " (scale-in paused after a failed attempt)", decision.alerts)
        self.metrics.decided(decision)
        self._log_decision(decision, reading)
        self._raise_alerts(decision, reading)
        if decision.changes_count:
            await self._apply(decision, reading)
        return decision

    async def _apply(self, decision: Decision, reading: PoolReading) -> None:
        started = time.monotonic()
        outcome = await self.target.apply(decision, reading)
        elapsed = time.monotonic() - started
        fields = {
            "action": decision.action.value, "reason": decision.reason.value, "from": reading.desired,
            "target": decision.target, "cause": outcome.cause, "seconds": round(elapsed, 3),
        }
        if outcome.applied:
            self.metrics.scaled(decision.action, decision.reason)
            if decision.action is Action.UP:
                self.metrics.reaction.set(time.time() - reading.at)
            log.info("scaled", detail=decision.detail, **fields, **reading.counts())
            return
        self.metrics.scale_failures.labels(outcome.cause).inc()
        log.warning("scale not applied", detail=outcome.detail, **fields)
        if decision.action is Action.IN and outcome.cause not in ("job_changed", "fence_lost", "not_leader"):
            self._shrink_paused_until = time.monotonic() + self.settings.check_interval_s
        if outcome.cause != "not_leader":
            # Re-read and re-decide (the group or the pool changed meanwhile); a short pause keeps a
            # condition that keeps failing from turning into a hot loop against Nomad.
            await asyncio.sleep(ERROR_PAUSE_S / 5)
            self.kick()

    def _log_decision(self, decision: Decision, reading: PoolReading) -> None:
        """Log every decision that acts, and every change of verdict; repeats of a steady verdict go to debug."""
        counts = reading.counts()
        key = (decision.action, decision.reason, decision.target, tuple(sorted(counts.items())))
        fields = {
            "action": decision.action.value, "reason": decision.reason.value, "target": decision.target,
            "detail": decision.detail, **counts,
        }
        if decision.changes_count or key != self._last_logged:
            log.info("decision", **fields)
        else:
            log.debug("decision", **fields)
        self._last_logged = key

    def _raise_alerts(self, decision: Decision, reading: PoolReading) -> None:
        """Log and count each alert condition once per episode (when it starts); note when it clears.

        Operators hear of these conditions from Prometheus's rules on the pool gauges
        (monitoring/rules/botpool.rules.yml, through Alertmanager and the operator bot), which also say
        when they clear; writing them to ``botpool.alerts`` as well told every admin twice.
        """
        present = {a.kind for a in decision.alerts}
        for condition in decision.alerts:
            if condition.kind in self._raised:
                continue
            self.metrics.alerts.labels(condition.kind.value).inc()
            self._raised.add(condition.kind)
            log.warning("alert raised", kind=condition.kind.value, message=condition.message, **reading.counts())
        for kind in self._raised - present:
            self._raised.discard(kind)
            log.info("alert condition cleared", kind=kind.value, **reading.counts())
