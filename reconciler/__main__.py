"""``python -m reconciler``: run the reconciler (any number of instances; one leads).

The election, the reconcile loop and the leader's watch of Nomad's nodes
(which publishes the slots on draining, ineligible or down nodes,
``botpool.pool.nodes``; it needs Nomad's ``node:read`` and the namespace's
``read-job``) each run until SIGTERM and survive any error on their own.
Should one end anyway, the process gives up the lock and exits with status
1, so that a standby leads and Nomad restarts this one, instead of holding the
lock with nothing reconciling.

Every instance serves ``/metrics`` (``reconciler.metrics``) and puts its port
on its election service in Consul, tagged ``metrics``, for Prometheus.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import structlog

from botpool import jobspec, logs, wiring
from botpool import settings as cfg
from botpool.leader import LeaderElection
from botpool.pool import nodes
from reconciler.loop import Reconciler
from reconciler.metrics import MetricsServer, MetricsSettings, ReconcilerMetrics

log = structlog.get_logger("reconciler")


async def main() -> int:
    """Connect, campaign for leadership and reconcile until SIGTERM; the exit status (1: a task ended early)."""
    with wiring.exit_on_error("reconciler"):
        settings = wiring.ControlPlaneSettings.load()
        nomad_settings = cfg.load(cfg.NomadSettings)
        metrics_settings = cfg.load(MetricsSettings)
    logs.setup("reconciler")
    async with wiring.control_plane(settings, db_max_size=6) as plane, wiring.nomad(nomad_settings) as nomad:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        instance = f"{socket.gethostname()}:{os.getpid()}"
        metrics = ReconcilerMetrics(instance)
        server = MetricsServer(metrics, metrics_settings.host, metrics_settings.port)
        port = await server.start()
        leader = LeaderElection(
            plane.consul, instance=instance, role="reconciler", metrics_port=port,
            metrics_address=None if metrics_settings.host in ("", "0.0.0.0", "::") else metrics_settings.host,
        )
        metrics.follow_leader(lambda: leader.is_leader)
        reconciler = Reconciler(plane.activator, metrics=metrics)
        tasks = [
            asyncio.create_task(leader.run(), name="election"),
            asyncio.create_task(reconciler.run(stop, leader), name="reconcile"),
            asyncio.create_task(
                nodes.follow(plane.consul, nomad, jobspec.POOL.id, leading=lambda: leader.is_leader, stop=stop),
                name="nodes",
            ),
        ]
        stopper = asyncio.create_task(stop.wait(), name="stop")
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        status = 0
        for task in done - {stopper}:
            if not stop.is_set():
                error = task.exception() if not task.cancelled() else None
                log.critical("a reconciler task ended; resigning and exiting so it is restarted",
                             task=task.get_name(), error=repr(error))
                status = 1
        for task in [*tasks, stopper]:
            task.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)
        await reconciler.drain()
        await leader.resign()
        await server.stop()
        return status


if __name__ == "__main__":
    sys.exit(wiring.run(main()))
