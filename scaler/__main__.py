"""``python -m scaler``: one scaler instance (run two for high availability; the Consul lock picks the leader).

Settings are validated before anything connects: an invalid combination
exits with status 2 and one line naming the variables, which is what Nomad
shows as the task's failure reason.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from botpool import logs
from botpool import settings as cfg
from botpool.clients import consul as consul_client
from botpool.clients.nomad import NomadClient
from botpool.errors import ConfigurationError
from scaler import settings as scaler_settings
from scaler.service import Scaler


async def main() -> None:
    """Load settings, connect, run until SIGTERM/SIGINT, then resign leadership and exit cleanly."""
    try:
        settings = scaler_settings.load()
        consul_settings = cfg.load(cfg.ConsulSettings)
        nomad_settings = cfg.load(cfg.NomadSettings)
    except ConfigurationError as exc:
        print(f"scaler: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.setup("scaler", level=settings.log_level)
    consul = consul_client.connect(consul_settings)
    nomad = NomadClient.from_settings(nomad_settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await Scaler(settings, consul, nomad).run(stop)
    finally:
        await nomad.aclose()
        await consul.close()


if __name__ == "__main__":
    asyncio.run(main())
