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

from consul.aio import Consul
from redis import exceptions as redis_exceptions

from botpool import settings as cfg
from botpool import wiring
from botpool.clients.consul import is_transient
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
    """A refused or dropped connection to Consul, Vault, PostgreSQL or Redis (not a logic error).

    hvac's connection errors are requests' ``ConnectionError``, an ``OSError`` like asyncpg's refusals.
    """
    return is_transient(exc) or isinstance(exc, (OSError, redis_exceptions.ConnectionError))


@contextlib.asynccontextmanager
async def _open(activator: bool) -> AsyncIterator[Services]:
    if not activator:
        async with wiring.consul(cfg.load(cfg.ConsulSettings)) as consul:
            yield Services(consul, None)
        return
    async with wiring.control_plane(wiring.ControlPlaneSettings.load()) as plane:
        yield Services(plane.consul, plane.activator)
