"""The composition root: where every entry point gets its settings, clients and ``Activator``.

The reconciler, the scaler, a pool slot, the operator CLI, the benchmarks and
the tests all need the same few objects built the same way (a Consul client
from ``CONSUL_HTTP_ADDR``, an activator over Consul, Vault, PostgreSQL and the
Redis admin connection). Building them here, once, means a new setting or a
new client option is added in one place, and each builder is an async context
manager so that whatever it opened is closed on every path, a failed start
included, in the reverse order of opening.

Settings errors have one style too: ``exit_on_configuration_error`` turns a
``ConfigurationError`` into one line on stderr naming the variable and exit
status 2 (what Nomad shows as the task's failure reason), never a traceback;
``exit_on_error``, which every service's ``__main__`` uses, adds that any other
error ending the service is one log line and exit status 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, NoReturn, TypeVar
from urllib.parse import urlparse

import structlog
import uvloop

from botpool import settings as cfg
from botpool.clients import consul as consul_client
from botpool.errors import ConfigurationError
from botpool.logs import redact

if TYPE_CHECKING:
    # Imported where used instead: a waiting pool slot goes through this module for its Consul
    # client and must not pay for asyncpg, redis, hvac, httpx and the activator (~27 MB of RSS per slot).
    import asyncpg
    import hvac
    import redis.asyncio as aioredis
    from consul.aio import Consul

    from botpool.clients.nomad import NomadClient
    from botpool.tenancy.activation import Activator

#: Seconds before a failed renewal of the Vault token is tried again.
VAULT_RENEW_RETRY_S = 60.0

#: Exit status of a process that refused to start because of its settings (as ``sysexits``' usage error).
EXIT_CONFIGURATION = 2


_T = TypeVar("_T")


def run(main: Coroutine[object, object, _T]) -> _T:
    """Run a service's main coroutine to its end on uvloop, the event loop every long-running service uses.

    A booking bot spends most of each update in the event loop and its transports (the Bot API
    requests, PostgreSQL and Redis round trips), which uvloop runs in C: on the booking benchmark it
    is the largest single cut in CPU per update (docs/performance.md). One function, so the services,
    the benchmarks and the tests' subprocesses all run on the same loop.
    """
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def configuration_exit(program: str, exc: ConfigurationError) -> NoReturn:
    """Print the one line an operator needs and exit with status 2, so no settings error ever shows a traceback."""
    print(f"{program}: {exc}", file=sys.stderr)
    raise SystemExit(EXIT_CONFIGURATION)


@contextlib.contextmanager
def exit_on_configuration_error(program: str) -> Iterator[None]:
    """Wrap a process's start so a ``ConfigurationError`` anywhere inside becomes ``configuration_exit``."""
    try:
        yield
    except ConfigurationError as exc:
        configuration_exit(program, exc)


@contextlib.contextmanager
def exit_on_error(program: str) -> Iterator[None]:
    """Wrap a service's whole run: a configuration error is one line and status 2, any other error that ends
    the service is one log line (type and redacted message) and status 1, never a traceback on stderr.

    Why not let Python print it: the operator reads the task's log, where a traceback is forty lines of
    library frames around one sentence, and may carry a DSN or token the redaction never saw. Nomad
    restarts a task that exits 1, so nothing is lost by exiting.
    """
    try:
        yield
    except ConfigurationError as exc:
        configuration_exit(program, exc)
    except Exception as exc:
        structlog.get_logger(program).error(
            "stopped by an error; exiting so the scheduler restarts it",
            error=f"{type(exc).__name__}: {redact(str(exc))[:300]}",
        )
        raise SystemExit(1) from None


@dataclass(frozen=True)
class ControlPlaneSettings:
    """What a process that activates tenants must know: Consul, Vault, the control database and Redis."""

    consul: cfg.ConsulSettings
    vault: cfg.VaultSettings
    database: cfg.DatabaseSettings
    redis: cfg.RedisSettings

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None) -> ControlPlaneSettings:
        """Read all four from the environment (or ``env``); raises ``ConfigurationError`` naming each bad variable."""
        return cls(
            consul=cfg.load(cfg.ConsulSettings, env),
            vault=cfg.load(cfg.VaultSettings, env),
            database=cfg.load(cfg.DatabaseSettings, env),
            redis=cfg.load(cfg.RedisSettings, env),
        )

    @property
    def database_name(self) -> str:
        """The database the tenants' schemas live in, taken from the DSN (the activator grants on it)."""
        return urlparse(self.database.url.get_secret_value()).path.lstrip("/") or "botpool"


@dataclass(frozen=True)
class ControlPlane:
    """Open clients of a control-plane process and the activator built on them."""

    consul: Consul
    vault: hvac.Client
    db: asyncpg.Pool
    redis_admin: aioredis.Redis
    activator: Activator


@contextlib.asynccontextmanager
async def consul(settings: cfg.ConsulSettings) -> AsyncIterator[Consul]:
    """An asyncio Consul client for the configured agent, closed afterwards."""
    client = consul_client.connect(settings)
    try:
        yield client
    finally:
        await client.close()


@contextlib.asynccontextmanager
async def nomad(settings: cfg.NomadSettings) -> AsyncIterator[NomadClient]:
    """A Nomad API client for the configured cluster, closed afterwards."""
    from botpool.clients.nomad import NomadClient

    client = NomadClient.from_settings(settings)
    try:
        yield client
    finally:
        await client.aclose()


@contextlib.contextmanager
def vault(settings: cfg.VaultSettings) -> Iterator[hvac.Client]:
    """An authenticated hvac client, whose HTTP session is closed afterwards."""
    from botpool.clients import vault as vault_client

    client = vault_client.connect(settings)
    try:
        yield client
    finally:
        client.adapter.close()


async def keep_vault_token(client: hvac.Client) -> None:
    """Renew the process's Vault token for as long as it runs: a periodic role token dies when nobody renews it.

    A failed renewal (Vault down or sealed for a moment) is logged and tried again
    a minute later; the token's period (720 h) leaves ample room for that.
    """
    import hvac.exceptions

    from botpool.clients import vault as vault_client

    log = structlog.get_logger("botpool.vault")
    while True:
        try:
            wait = await asyncio.to_thread(vault_client.renew_self, client)
        except (hvac.exceptions.VaultError, OSError) as exc:  # requests' errors (hvac's transport) are OSErrors
            log.warning("vault_token_renewal_failed", error=type(exc).__name__, retry_s=VAULT_RENEW_RETRY_S)
            wait = VAULT_RENEW_RETRY_S
        if wait is None:
            return
        await asyncio.sleep(wait)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.asynccontextmanager
async def database(settings: cfg.DatabaseSettings, *, max_size: int = 4) -> AsyncIterator[asyncpg.Pool]:
    """A small asyncpg pool on the control database, closed afterwards."""
    from botpool.clients.postgres import create_pool

    pool = await create_pool(settings.url.get_secret_value(), min_size=1, max_size=max_size)
    try:
        yield pool
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def redis_admin(settings: cfg.RedisSettings) -> AsyncIterator[aioredis.Redis]:
    """The Redis connection that creates tenants' ACL users, closed afterwards."""
    from botpool.clients import redis as redis_client

    client = redis_client.from_url(settings.url.get_secret_value())
    try:
        yield client
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def control_plane(
    settings: ControlPlaneSettings, *, db_max_size: int = 4, pool_wait_s: float | None = None
) -> AsyncIterator[ControlPlane]:
    """Open Consul, Vault, PostgreSQL and Redis, build and prepare the ``Activator``; close all afterwards.

    ``pool_wait_s`` overrides how long an activation waits for a free slot (tests on a loaded
    machine lengthen it); ``None`` keeps the activator's default.

    ``prepare`` (the control schema, idempotent) runs before the activator is
    handed out, so every caller gets one that can activate at once. The Vault
    token is renewed in the background while the control plane is open.
    """
    async with contextlib.AsyncExitStack() as stack:
        consul_ = await stack.enter_async_context(consul(settings.consul))
        vault_ = stack.enter_context(vault(settings.vault))
        if settings.vault.token is not None and settings.vault.token.get_secret_value():
            stack.push_async_callback(_cancel, asyncio.create_task(keep_vault_token(vault_)))
        db = await stack.enter_async_context(database(settings.database, max_size=db_max_size))
        redis = await stack.enter_async_context(redis_admin(settings.redis))
        from botpool.tenancy.activation import Activator

        activator = Activator(
            consul=consul_, vault=vault_, kv_mount=settings.vault.kv_mount, db=db, redis_admin=redis,
            database_name=settings.database_name,
            **({"pool_wait_s": pool_wait_s} if pool_wait_s is not None else {}),
        )
        await activator.prepare()
        yield ControlPlane(consul_, vault_, db, redis, activator)
