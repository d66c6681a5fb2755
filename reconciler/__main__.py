"""``python -m reconciler``: run the reconciler (any number of instances; one leads)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket

from botpool import logs, wiring
from botpool.leader import LeaderElection
from reconciler.loop import Reconciler


async def main() -> None:
    """Connect, campaign for leadership and reconcile until SIGTERM."""
    with wiring.exit_on_configuration_error("reconciler"):
        settings = wiring.ControlPlaneSettings.load()
    logs.setup("reconciler")
    async with wiring.control_plane(settings, db_max_size=6) as plane:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        leader = LeaderElection(plane.consul, instance=f"{socket.gethostname()}:{os.getpid()}", role="reconciler")
        tasks = [
            asyncio.create_task(leader.run()),
            asyncio.create_task(Reconciler(plane.activator).run(stop, leader)),
        ]
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await leader.resign()


if __name__ == "__main__":
    asyncio.run(main())
