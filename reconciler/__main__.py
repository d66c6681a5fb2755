"""``python -m reconciler``: run the reconciler (any number of instances; one leads)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from urllib.parse import urlparse

import redis.asyncio as aioredis

from botpool import logs
from botpool import settings as cfg
from botpool.clients import consul as consul_client
from botpool.clients import vault as vault_client
from botpool.clients.postgres import create_pool
from botpool.errors import ConfigurationError
from botpool.leader import LeaderElection
from botpool.tenancy.activation import Activator
from reconciler.loop import Reconciler


async def main() -> None:
    """Connect, campaign for leadership and reconcile until SIGTERM."""
    log = logs.setup("reconciler")
    try:
        consul_settings = cfg.load(cfg.ConsulSettings)
        vault_settings = cfg.load(cfg.VaultSettings)
        dsn = cfg.load(cfg.DatabaseSettings).url.get_secret_value()
        redis_url = cfg.load(cfg.RedisSettings).url.get_secret_value()
    except ConfigurationError as exc:
        log.error("invalid settings", error=str(exc))
        raise SystemExit(2) from None
    consul = consul_client.connect(consul_settings)
    db = await create_pool(dsn, min_size=1, max_size=6)
    redis = aioredis.Redis.from_url(redis_url)
    activator = Activator(
        consul=consul, vault=vault_client.connect(vault_settings), kv_mount=vault_settings.kv_mount, db=db,
        redis_admin=redis, database_name=urlparse(dsn).path.lstrip("/") or "botpool",
    )
    await activator.prepare()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    leader = LeaderElection(consul, instance=f"{socket.gethostname()}:{os.getpid()}", role="reconciler")
    tasks = [asyncio.create_task(leader.run()), asyncio.create_task(Reconciler(activator).run(stop, leader))]
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await leader.resign()
    await db.close()
    await redis.aclose()
    await consul.close()


if __name__ == "__main__":
    asyncio.run(main())
