"""``python -m bot_runtime``: one warm pool slot (run by Nomad as an allocation of job bot-pool)."""

from __future__ import annotations

import asyncio
import signal
import sys

# Imported before the slot is assigned: aiogram's types take seconds to import,
# which a slot pays while WAITING so that activation takes well under a second.
import aiogram.types  # noqa: F401
from pydantic import ValidationError

from bot_runtime.health import HealthServer
from bot_runtime.settings import RuntimeSettings
from bot_runtime.slot import Slot
from botpool import logs
from botpool.clients import consul as consul_client
from botpool.settings import ConsulSettings


async def main() -> None:
    """Start the health endpoint, join the pool and run until SIGTERM (Nomad's stop signal)."""
    try:
        settings = RuntimeSettings()
    except ValidationError as exc:
        names = ", ".join(str(e["loc"][0]) for e in exc.errors())
        print(f"bot_runtime: invalid or missing settings: {names}", file=sys.stderr)
        raise SystemExit(2) from None
    log = logs.setup("bot_runtime", level=settings.log_level)
    consul = consul_client.connect(ConsulSettings(CONSUL_HTTP_ADDR=settings.consul_addr))
    slot = Slot(settings, consul)
    health = HealthServer(settings.health_port, slot.probe)
    await health.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await slot.run(stop)
    finally:
        await health.stop()
        await consul.close()
        log.info("slot stopped", slot=settings.alloc_index)


if __name__ == "__main__":
    asyncio.run(main())
