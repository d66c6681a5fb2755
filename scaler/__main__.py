"""``python -m scaler``: one scaler instance (run two for high availability; the Consul lock picks the leader).

Settings are validated before anything connects: an invalid combination
exits with status 2 and one line naming the variables, which is what Nomad
shows as the task's failure reason.
"""

from __future__ import annotations

import asyncio
import signal

from botpool import logs, wiring
from botpool import settings as cfg
from scaler import settings as scaler_settings
from scaler.service import Scaler


async def main() -> None:
    """Load settings, connect, run until SIGTERM/SIGINT, then resign leadership and exit cleanly."""
    with wiring.exit_on_error("scaler"):
        settings = scaler_settings.load()
        consul_settings = cfg.load(cfg.ConsulSettings)
        nomad_settings = cfg.load(cfg.NomadSettings)
    logs.setup("scaler", level=settings.log_level)
    async with wiring.consul(consul_settings) as consul, wiring.nomad(nomad_settings) as nomad:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await Scaler(settings, consul, nomad).run(stop)


if __name__ == "__main__":
    wiring.run(main())
