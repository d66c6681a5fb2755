"""Connections the operator commands need, from the environment or, failing that, the local stack.

An operator pointing botpool at a real cluster exports CONSUL_HTTP_ADDR,
VAULT_ADDR, VAULT_TOKEN, BOTPOOL_DATABASE_URL and BOTPOOL_REDIS_URL; on a
developer machine ``botpool up`` has written them for the local stack.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import redis.asyncio as aioredis
from consul.aio import Consul

from botpool import settings as cfg
from botpool.clients import consul as consul_client
from botpool.clients import vault as vault_client
from botpool.clients.postgres import create_pool
from botpool.tenancy.activation import Activator
from devstack.stack import Stack


def load_environment(root: Path) -> None:
    """Fill unset variables from the local stack, if one runs in ``root``."""
    stack = Stack(root)
    if stack.state.pids:
        for key, value in stack.env().items():
            os.environ.setdefault(key, value)


@dataclass
class Services:
    """Open clients for one CLI command."""

    consul: Consul
    activator: Activator | None


@contextlib.asynccontextmanager
async def connect(root: Path, *, activator: bool = True) -> AsyncIterator[Services]:
    """Open what a command needs and close it afterwards; settings errors become ConfigurationError."""
    load_environment(root)
    consul = consul_client.connect(cfg.load(cfg.ConsulSettings))
    if not activator:
        try:
            yield Services(consul, None)
        finally:
            await consul.close()
        return
    vault_settings = cfg.load(cfg.VaultSettings)
    dsn = cfg.load(cfg.DatabaseSettings).url.get_secret_value()
    db = await create_pool(dsn, min_size=1, max_size=4)
    redis = aioredis.Redis.from_url(cfg.load(cfg.RedisSettings).url.get_secret_value())
    act = Activator(
        consul=consul, vault=vault_client.connect(vault_settings), kv_mount=vault_settings.kv_mount, db=db,
        redis_admin=redis, database_name=urlparse(dsn).path.lstrip("/") or "botpool",
    )
    try:
        await act.prepare()
        yield Services(consul, act)
    finally:
        await db.close()
        await redis.aclose()
        await consul.close()
