"""Fixtures of the booking bot tests: a migrated tenant schema with its own role, Redis, a clock.

The servers come from the shared stack fixtures (``postgres``, ``redis_server``,
``pg_schema``, ``redis_prefix`` in tests/fixtures/stack.py). Each test gets a
fresh schema owned by a fresh login role whose connections see only that
schema (plus ``public`` for btree_gist), exactly how the runtime runs a
tenant, so a migration that needs superuser would fail here too.

For quick iteration on this package alone, ``BOOKING_DEV_PG_DSN`` and
``BOOKING_DEV_REDIS_URL`` point the two session fixtures at servers already
running instead of starting the whole stack; unset, the shared stack is used.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlsplit

import asyncpg
import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from bot_runtime.booking import MIGRATIONS, BookingConfig
from bot_runtime.booking.clock import ManualClock
from botpool import logs
from botpool.db import migrations
from botpool.tenancy.provision import redis_rules
from tests.booking.harness import TenantBot
from tests.fixtures import telegram as shared_telegram
from tests.fixtures.telegram import TelegramStandin

#: The shared Telegram stand-in (session fixture), made visible to these tests.
telegram_standin = shared_telegram.telegram_standin


@dataclass(frozen=True)
class _DevPostgres:
    dsn: str


@dataclass(frozen=True)
class _DevRedis:
    url: str


if os.environ.get("BOOKING_DEV_PG_DSN") and os.environ.get("BOOKING_DEV_REDIS_URL"):

    @pytest.fixture(scope="session")
    def postgres() -> _DevPostgres:
        """Development override: an already running PostgreSQL (see the module docstring)."""
        return _DevPostgres(os.environ["BOOKING_DEV_PG_DSN"])

    @pytest.fixture(scope="session")
    def redis_server() -> _DevRedis:
        """Development override: an already running Redis (see the module docstring)."""
        return _DevRedis(os.environ["BOOKING_DEV_REDIS_URL"])


class _HasDsn:
    dsn: str


class _HasUrl:
    url: str


@pytest.fixture(scope="session", autouse=True)
def structured_logs() -> None:
    """Configure logging as the runtime process does, so the bot's records reach pytest's log capture."""
    logs.setup("booking-tests", level="INFO")


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def btree_gist(postgres: _HasDsn) -> None:
    """Create btree_gist once as superuser, as the runtime's provisioner does per database."""
    conn = await asyncpg.connect(postgres.dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext('btree_gist'))")
        await conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public")
        await conn.execute("SELECT pg_advisory_unlock(hashtext('btree_gist'))")
    finally:
        await conn.close()


@pytest.fixture
def tenant_schema(pg_schema: str) -> str:
    """The tenant's schema name (also its tenant id in ``BookingConfig``)."""
    return pg_schema


@pytest_asyncio.fixture
async def db(postgres: _HasDsn, pg_schema: str, btree_gist: None) -> AsyncIterator[asyncpg.Pool]:
    """A pool connected as the tenant's own role, search_path = its schema, migrations applied."""
    role = f"r_{pg_schema}"[:63]
    password = secrets.token_hex(12)
    admin = await asyncpg.connect(postgres.dsn)
    try:
        await admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        await admin.execute(f"ALTER SCHEMA {pg_schema} OWNER TO {role}")
        await admin.execute(f"ALTER ROLE {role} SET search_path = {pg_schema}, public")
        # The migration runner says CREATE SCHEMA IF NOT EXISTS, which needs this privilege.
        database = await admin.fetchval("SELECT current_database()")
        await admin.execute(f'GRANT CONNECT, CREATE ON DATABASE "{database}" TO {role}')
        owner = await asyncpg.connect(postgres.dsn, user=role, password=password)
        try:
            await migrations.apply(owner, pg_schema, MIGRATIONS)
        finally:
            await owner.close()
        pool = await asyncpg.create_pool(postgres.dsn, user=role, password=password, min_size=2, max_size=20)
        try:
            yield pool
        finally:
            await pool.close()
    finally:
        if admin.is_closed():  # the test restarted PostgreSQL (tests/fixtures/outage.py)
            admin = await asyncpg.connect(postgres.dsn)
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()


@pytest_asyncio.fixture
async def redis(redis_server: _HasUrl, redis_prefix: str) -> AsyncIterator[aioredis.Redis]:
    """A Redis client logged in as a user with a tenant's exact ACL rules, confined to this test's prefix.

    So every booking test also proves the tenant command set holds all the bot
    needs: a command missing from it fails the test with NOPERM. The user is
    saved to the ACL file (a test may restart Redis) and deleted afterwards.
    """
    user, password = f"booking-{uuid.uuid4().hex[:12]}", secrets.token_hex(16)
    # One admin connection to create and one to delete, none held between: a test may restart Redis.
    admin = aioredis.Redis.from_url(redis_server.url)
    try:
        rules = ["reset", "on", f">{password}", *redis_rules(redis_prefix)]
        await cast(Any, admin).execute_command("ACL", "SETUSER", user, *rules)
        await admin.acl_save()
    finally:
        await admin.aclose()
    parts = urlsplit(redis_server.url)
    client = aioredis.Redis(host=parts.hostname or "127.0.0.1", port=parts.port or 6379, username=user,
                            password=password, driver_info=None)  # as bot_runtime.tenant_bot connects
    try:
        yield client
    finally:
        await client.aclose()
        admin = aioredis.Redis.from_url(redis_server.url)
        try:
            await admin.acl_deluser(user)
            await admin.acl_save()
        finally:
            await admin.aclose()


@pytest.fixture
def clock() -> ManualClock:
    """A clock standing on Monday 2025-03-10 09:00 UTC (12:00 in Moscow) until a test moves it."""
    return ManualClock(datetime(2025, 3, 10, 9, 0, tzinfo=UTC))


@pytest_asyncio.fixture
async def make_tenant(
    telegram_standin: TelegramStandin,
    db: asyncpg.Pool,
    redis: aioredis.Redis,
    redis_prefix: str,
    pg_schema: str,
    clock: ManualClock,
) -> AsyncIterator[Callable[..., Awaitable[TenantBot]]]:
    """Start this test's tenant bot (polling the stand-in); the owner's Telegram id is random."""
    started: list[TenantBot] = []

    async def start(*, timezone: str = "Europe/Moscow", language: str = "ru") -> TenantBot:
        info = await telegram_standin.control.create_bot(f"t{uuid.uuid4().hex[:12]}_bot")
        config = BookingConfig(
            tenant_id=pg_schema,
            company_name="Студия «Лотос»",
            admin_telegram_id=7_000_000_000 + secrets.randbelow(10**9),
            timezone=timezone,
            language=language,
        )
        tenant = TenantBot(telegram_standin, info, db, redis, redis_prefix, config, clock)
        await tenant.start()
        started.append(tenant)
        return tenant

    yield start
    for tenant in started:
        await tenant.close()


@pytest_asyncio.fixture
async def tenant(make_tenant: Callable[..., Awaitable[TenantBot]]) -> TenantBot:
    """The tenant bot of a salon in Moscow, polling the stand-in."""
    return await make_tenant()
