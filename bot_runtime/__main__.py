"""``python -m bot_runtime``: one warm pool slot (run by Nomad as an allocation of job bot-pool)."""

from __future__ import annotations

import asyncio
import signal

from bot_runtime import startgate

# Imported before the slot is assigned: aiogram's types take seconds to import,
# which a slot pays while WAITING so that activation takes well under a second.
# One slot per core at a time on this machine pays them (bot_runtime.startgate).
with startgate.turn():
    import aiogram.types  # noqa: F401

    from bot_runtime.health import HealthServer
    from bot_runtime.settings import RuntimeSettings
    from bot_runtime.slot import Slot
    from botpool import logs, wiring
    from botpool import settings as cfg


async def main() -> None:
    """Start the health endpoint, join the pool and run until SIGTERM (Nomad's stop signal)."""
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
            await slot.run(stop)
        finally:
            await health.stop()
            log.info("slot stopped", slot=settings.alloc_index)


if __name__ == "__main__":
    asyncio.run(main())
