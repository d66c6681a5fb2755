"""Command-line entry point: ``python -m devstack.standins.yookassa --host 127.0.0.1 --port N``.

It prints exactly one line, ``yookassa stand-in listening on http://HOST:PORT``, once the socket accepts
connections (``--port 0`` picks a free port, and the line reports it), then serves until SIGTERM or
SIGINT and exits cleanly. ``--shop-id``/``--secret-key`` create a shop at start (the local stack's
``YOOKASSA_SHOP_ID``/``YOOKASSA_SECRET_KEY``), with ``--notification-url`` as its webhook.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from aiohttp import web

from botpool import logs
from devstack.standins.yookassa.server import create_app, create_runner
from devstack.standins.yookassa.state import World


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the listen address, the optional start-up shop and the redelivery bounds."""
    parser = argparse.ArgumentParser(prog="python -m devstack.standins.yookassa", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8082, help="port to bind; 0 picks a free one")
    parser.add_argument("--log-level", default="INFO", help="logging level for stderr (default INFO)")
    parser.add_argument("--access-log", action="store_true", help="log every request (method, path, status)")
    parser.add_argument("--shop-id", help="create this shop at start")
    parser.add_argument(
        "--secret-key-env", default="YOOKASSA_SECRET_KEY",
        help="environment variable holding the start-up shop's secret key (never on the command line)",
    )
    parser.add_argument("--notification-url", help="where the start-up shop's notifications are POSTed")
    parser.add_argument("--source-address", default="127.0.0.1", help="local address notifications leave from")
    parser.add_argument("--max-retry", type=float, default=2.0, help="longest pause between redeliveries (s)")
    parser.add_argument("--max-attempts", type=int, default=30, help="delivery attempts before giving up")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Run the stand-in until a termination signal arrives, then shut it down."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    world = World()
    if args.shop_id:
        world.upsert_shop(
            args.shop_id, os.environ.get(args.secret_key_env) or None,
            notification_url=args.notification_url, source_address=args.source_address,
        )
    app = create_app(world, max_retry_s=args.max_retry, max_attempts=args.max_attempts)
    runner = create_runner(app, access_log=args.access_log)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    bound_port = args.port
    if runner.addresses:
        bound_port = int(runner.addresses[0][1])
    print(f"yookassa stand-in listening on http://{args.host}:{bound_port}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Configure logging to stderr (``botpool.logs``, as every service: structured, secrets masked) and serve."""
    args = parse_args(argv)
    logs.setup("yookassa-standin", level=args.log_level.upper())
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
