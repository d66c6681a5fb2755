"""``python -m bot_runtime``: one warm pool slot (run by Nomad as an allocation of job bot-pool)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from bot_runtime import startgate

# Imported before the slot is assigned, so that activation takes well under a second: aiogram's
# types without their 446 validators (botpool.lazytypes; about 1 s and 50 MB instead of 4 s and
# 150 MB), the rest of the slot, and later, while WAITING, what a tenant's bot needs first
# (tenant_bot.prewarm). One slot per core at a time on this machine pays this (bot_runtime.startgate).
with startgate.turn():
    from botpool import lazytypes

    lazytypes.import_types()

    from bot_runtime.health import HealthServer
    from bot_runtime.settings import RuntimeSettings
    from bot_runtime.slot import Slot
    from botpool import logs, wiring
    from botpool import settings as cfg


async def main() -> bool:
    """Start the health endpoint, join the pool and run until SIGTERM (Nomad's stop signal); True to recycle."""
    with wiring.exit_on_error("bot_runtime"):
        settings = cfg.load(RuntimeSettings)
        consul_settings = settings.consul()
    log = logs.setup("bot_runtime", level=settings.log_level)
    async with wiring.consul(consul_settings) as consul:
        slot = Slot(settings, consul)
        health = HealthServer(settings.health_port, slot.probe, slot.metrics.render)
        await health.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            recycle = await slot.run(stop)
        finally:
            await health.stop()
        log.info("slot recycled" if recycle else "slot stopped", slot=settings.alloc_index)
        return recycle


if __name__ == "__main__":
    if wiring.run(main()):
        # The same process, started afresh: everything the tenant left in memory is gone, and Nomad (which
        # tracks the pid) sees neither an exit nor a restart. Every descriptor but stdout and stderr is
        # close-on-exec, so the health port and Consul connections close with the old image.
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606 - our own interpreter and argv
