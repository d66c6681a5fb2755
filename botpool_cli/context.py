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
from typing import NoReturn

import typer
from consul.aio import Consul
from dotenv import dotenv_values
from redis import exceptions as redis_exceptions
from rich.console import Console
from rich.markup import escape

from botpool import settings as cfg
from botpool import wiring
from botpool.clients.consul import is_transient
from botpool.errors import BotpoolError, ConfigurationError, DependencyUnavailable
from botpool.logs import redact
from botpool.tenancy.activation import Activator

#: Where ``botpool up`` keeps the local stack's state; ``stack.env`` there holds its addresses.
DEFAULT_ROOT = Path(os.environ.get("BOTPOOL_STATE_DIR", Path(__file__).resolve().parent.parent / ".botpool" / "local"))

#: The ``--root`` option every command shares.
RootOption = typer.Option(DEFAULT_ROOT, "--root", help="Folder of the local stack's state.", envvar="BOTPOOL_STATE_DIR")

console = Console(stderr=True)


def load_environment(root: Path) -> None:
    """Fill unset variables from the local stack's ``stack.env`` (written 0600 by ``botpool up``), if any.

    Reading the file, not asking the local-stack code, keeps operator commands
    free of ``devstack``: on a real cluster there is no such file and the
    environment alone decides.
    """
    path = root / "stack.env"
    if not path.is_file():
        return
    for key, value in dotenv_values(path).items():
        if value is not None:
            os.environ.setdefault(key, value)


def fail(exc: BotpoolError) -> NoReturn:
    """One line for the operator: settings errors exit 2 like every service's, other refusals exit 1."""
    if isinstance(exc, ConfigurationError):
        wiring.configuration_exit("botpool", exc)
    console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
    raise typer.Exit(1)


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
