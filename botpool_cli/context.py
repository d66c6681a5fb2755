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
import requests
from consul.aio import Consul
from redis import exceptions as redis_exceptions

from botpool import settings as cfg
from botpool.clients import consul as consul_client
from botpool.clients import vault as vault_client
from botpool.clients.consul import is_transient
from botpool.clients.postgres import create_pool
from botpool.errors import BotpoolError, DependencyUnavailable
from botpool.logs import redact
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
    """Open what a command needs and close it afterwards.

    Settings errors become ``ConfigurationError``; a service that does not
    answer, while opening or during the command, becomes
    ``DependencyUnavailable`` with the address, so the operator reads one
    line instead of a client library's traceback.
    """
    load_environment(root)
    try:
        async with _open(activator) as services:
            yield services
    except Exception as exc:
        if isinstance(exc, BotpoolError) or not _unreachable(exc):
            raise
        raise DependencyUnavailable(
            f"a backing service is not answering ({type(exc).__name__}: {redact(str(exc))[:200]}); "
            "is the stack up? (botpool status, botpool up)"
        ) from None


def _unreachable(exc: BaseException) -> bool:
    """A refused or dropped connection to Consul, Vault, PostgreSQL or Redis (not a logic error)."""
    return is_transient(exc) or isinstance(
        exc, (OSError, redis_exceptions.ConnectionError, requests.exceptions.ConnectionError)
    )


@contextlib.asynccontextmanager
async def _open(activator: bool) -> AsyncIterator[Services]:
    consul = consul_client.connect(cfg.load(cfg.ConsulSettings))
    try:
        if not activator:
            yield Services(consul, None)
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
    finally:
        await consul.close()
