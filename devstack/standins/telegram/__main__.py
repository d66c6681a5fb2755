"""Command-line entry point: ``python -m devstack.standins.telegram --host 127.0.0.1 --port N``.

It prints exactly one line, ``telegram stand-in listening on http://HOST:PORT``, once the socket
accepts connections (``--port 0`` picks a free port, and the line reports it), then serves until
SIGTERM or SIGINT and exits cleanly, so fixtures and process supervisors can manage it.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

from aiohttp import web

from botpool import logs
from devstack.standins.telegram.server import create_app, create_runner


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the listen address and logging options."""
    parser = argparse.ArgumentParser(prog="python -m devstack.standins.telegram", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8081, help="port to bind; 0 picks a free one")
    parser.add_argument("--log-level", default="INFO", help="logging level for stderr (default INFO)")
    parser.add_argument("--access-log", action="store_true", help="log every request (tokens redacted)")
    return parser.parse_args(argv)


async def serve(host: str, port: int, *, access_log: bool) -> None:
    """Run the stand-in until a termination signal arrives, then shut it down."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = create_runner(create_app(), access_log=access_log)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = port
    if runner.addresses:
        bound_port = int(runner.addresses[0][1])
    print(f"telegram stand-in listening on http://{host}:{bound_port}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Configure logging to stderr and serve; return the process exit status.

    Logging goes through ``botpool.logs`` like every service, so lines are structured and anything
    shaped like a token is masked even if a library logs it.
    """
    args = parse_args(argv)
    logs.setup("telegram-standin", level=args.log_level.upper())
    asyncio.run(serve(args.host, args.port, access_log=args.access_log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
