"""Give a tenant its own PostgreSQL role and schema and its own Redis ACL user, idempotently.

Slots never hold admin credentials: the control plane creates the role,
schema and ACL user with fresh passwords, stores those passwords with the bot
token in Vault, and the slot receives them only through the wrapped handoff.
The tenant role owns its schema (so it runs its own migrations) and can use
nothing else; the Redis user can run only the few commands the bot needs, on keys under its
prefix, and can list nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from typing import Any, cast

import redis.asyncio as aioredis

from botpool.db import Conn
from botpool.db.migrations import quote_ident
from botpool.pool.model import TENANT_ID, validate_tenant_id


def redis_prefix(tenant_id: str) -> str:
    """The Redis key prefix every key of this tenant starts with."""
    return f"{validate_tenant_id(tenant_id)}:"


def new_password() -> str:
    """A fresh random password for a tenant's role or Redis user."""
    return secrets.token_urlsafe(32)


def scram_verifier(password: str, *, iterations: int = 4096) -> str:
    """Return a PostgreSQL SCRAM-SHA-256 verifier so the plain password never reaches the server.

    Hand-written (RFC 5802/7677, about ten lines) because asyncpg exposes no
    helper and ``ALTER ROLE ... PASSWORD 'plain'`` would put the password in any
    server log that records DDL.
    """
    salt = secrets.token_bytes(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    b64 = base64.b64encode
    return (
        f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}"
        f"${b64(stored_key).decode()}:{b64(server_key).decode()}"
    )


async def prepare_database(admin: Conn, database: str) -> None:
    """One-time, database-wide hardening and extensions (superuser); safe to repeat, also concurrently.

    Every control-plane process runs this at start (through ``botpool.wiring``),
    so several may run it at once; the provisioning lock serialises them, since
    concurrent changes to the one pg_database row fail with "tuple concurrently updated".
    """
    db = quote_ident(database)
    async with admin.transaction():
        await admin.execute("SELECT pg_advisory_xact_lock(hashtext('botpool:provision'))")
        await admin.execute(f"REVOKE ALL ON DATABASE {db} FROM PUBLIC")
        await admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        # Booking bots enforce "no double booking" with an exclusion constraint over time ranges.
        await admin.execute("CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public")


async def provision_postgres(admin: Conn, tenant_id: str, password: str, database: str) -> None:
    """Create or update the tenant's role (login with ``password``) and its schema; idempotent."""
    role = quote_ident(validate_tenant_id(tenant_id))
    verifier = scram_verifier(password).replace("'", "''")
    async with admin.transaction():
        # One lock for all tenants: GRANT ... ON DATABASE rewrites the single pg_database row, and
        # concurrent grants from several activators fail with "tuple concurrently updated".
        await admin.execute("SELECT pg_advisory_xact_lock(hashtext('botpool:provision'))")
        exists = await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", tenant_id)
        if not exists:
            await admin.execute(f"CREATE ROLE {role} LOGIN")
        await admin.execute(
            f"ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
            f"CONNECTION LIMIT 20 PASSWORD '{verifier}'"
        )
        await admin.execute(f"CREATE SCHEMA IF NOT EXISTS {role} AUTHORIZATION {role}")
        await admin.execute(f"REVOKE ALL ON SCHEMA {role} FROM PUBLIC")
        await admin.execute(f"ALTER ROLE {role} SET search_path = {role}, public")
        await admin.execute(f"GRANT CONNECT ON DATABASE {quote_ident(database)} TO {role}")


#: Every Redis command a tenant bot runs, and nothing else: aiogram's FSM storage (GET, SET with EX, DEL),
#: the rate limiter (INCRBY: redis-py's ``incr``; EXPIRE) and redis-py's health checks (PING).
#: AUTH and HELLO need no grant.
#: Denied by omission: whole-keyspace discovery (KEYS, SCAN, RANDOMKEY, PUBSUB), pub/sub, scripts,
#: transactions, CLIENT, CONFIG, ACL, SELECT and every administrative command.
TENANT_REDIS_COMMANDS = ("ping", "get", "set", "del", "incrby", "expire")


def redis_rules(prefix: str) -> list[str]:
    """The ACL rules of a tenant's Redis user, minus its password and on/off state.

    An allowlist rather than ``+@all`` minus categories: key names carry
    Telegram user ids, and SCAN, RANDOMKEY and PUBSUB are in no denied
    category, so a tenant could list every other tenant's keys. No channels at
    all: the bot uses no pub/sub. Shared with the tests, which run the booking
    bot as a user with exactly these rules.
    """
    return ["resetkeys", f"~{prefix}*", "resetchannels", "-@all", *(f"+{name}" for name in TENANT_REDIS_COMMANDS)]


async def provision_redis(admin: aioredis.Redis, tenant_id: str, password: str) -> None:
    """Create or update the tenant's Redis ACL user, confined to its key prefix and command set, and persist it.

    Only the password's SHA-256 reaches Redis (its ``#`` form), as in the ACL
    file. ``ACL SAVE`` writes the server's ``aclfile`` so the user survives a
    Redis restart; a server without one refuses, and provisioning fails loudly
    rather than leaving a user that a restart would silently drop.
    """
    digest = hashlib.sha256(password.encode()).hexdigest()
    rules = redis_rules(redis_prefix(tenant_id))
    # redis-py's acl_setuser takes no hashed password; its raw command is untyped.
    await cast(Any, admin).execute_command("ACL", "SETUSER", tenant_id, "reset", "on", f"#{digest}", *rules)
    await admin.acl_save()


async def confine_redis_users(admin: aioredis.Redis) -> int:
    """Apply today's rules to every existing tenant Redis user, keeping its password; return how many.

    Run by every control-plane process at start (``Activator.prepare``), so a
    deployment whose tenants were provisioned under older, wider rules is
    upgraded by its next restart, without Vault and without touching a
    running bot's password. Idempotent; users that are not tenants (the
    admin, an operator's own) are left alone.
    """
    names = [str(name, "utf-8") if isinstance(name, bytes) else str(name) for name in await admin.acl_users()]
    tenants = [name for name in names if TENANT_ID.match(name)]
    if not tenants:
        return 0
    async with admin.pipeline(transaction=False) as pipe:
        for tenant_id in tenants:
            # acl_setuser would also switch the user on or off; this changes only its rules.
            pipe.execute_command("ACL", "SETUSER", tenant_id, *redis_rules(redis_prefix(tenant_id)))
        await pipe.execute()
    await admin.acl_save()
    return len(tenants)


async def deprovision_postgres(admin: Conn, tenant_id: str, database: str) -> bool:
    """Drop the tenant's schema (every booking, client and setting in it) and its role; False if already gone.

    ``DROP OWNED BY`` removes what the role owns in this database (its schema and everything in it) and
    its grants here (CONNECT), after which the role itself can go. Idempotent, under the same lock as
    provisioning, whose GRANT ... ON DATABASE rewrites the row this REVOKE does.
    """
    role = quote_ident(validate_tenant_id(tenant_id))
    async with admin.transaction():
        await admin.execute("SELECT pg_advisory_xact_lock(hashtext('botpool:provision'))")
        if not await admin.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", tenant_id):
            await admin.execute(f"DROP SCHEMA IF EXISTS {role} CASCADE")
            return False
        await admin.execute(f"DROP SCHEMA IF EXISTS {role} CASCADE")
        await admin.execute(f"REVOKE ALL ON DATABASE {quote_ident(database)} FROM {role}")
        await admin.execute(f"DROP OWNED BY {role}")
        await admin.execute(f"DROP ROLE {role}")
    return True


async def deprovision_redis(admin: aioredis.Redis, tenant_id: str, *, batch: int = 500) -> tuple[bool, int]:
    """Delete the tenant's Redis user (persisted with ``ACL SAVE``) and every key under its prefix.

    Returns whether the user existed and how many keys were removed. The admin walks the keyspace
    with SCAN (the tenant's own user may not), and UNLINK frees the memory in the background.
    """
    existed = bool(await admin.acl_deluser(validate_tenant_id(tenant_id)))
    await admin.acl_save()
    removed = 0
    keys: list[bytes | str] = []
    async for key in admin.scan_iter(match=f"{redis_prefix(tenant_id)}*", count=batch):
        keys.append(key)
        if len(keys) >= batch:
            removed += int(await admin.unlink(*keys))
            keys.clear()
    if keys:
        removed += int(await admin.unlink(*keys))
    return existed, removed


async def write_subscription(admin: Conn, tenant_id: str, paid_until: datetime, serve_until: datetime) -> bool:
    """Tell the tenant's bot its paid period: one row in its own schema's ``subscription`` table.

    The bot reads it to pause booking during the grace period (``paid_until`` to ``serve_until``) and
    resume the moment a renewal lands; it has no access to the control schema, so the control plane
    writes the row where the bot can read it, as the tenant's role (``SET LOCAL ROLE``: the table is
    the tenant's, like the rest of its schema). Run inside the caller's transaction when there is one,
    so a renewal and what the bot sees change together. False (nothing written) when the tenant has
    no schema yet: provisioning writes it right after creating one.
    """
    role = quote_ident(validate_tenant_id(tenant_id))
    async with admin.transaction():
        if not await admin.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", tenant_id):
            return False
        await admin.execute("SELECT pg_advisory_xact_lock(hashtext('botpool:subscription'), hashtext($1))", tenant_id)
        await admin.execute(f"SET LOCAL ROLE {role}")
        await upsert_subscription(admin, tenant_id, paid_until, serve_until)
        await admin.execute("RESET ROLE")
    return True


async def upsert_subscription(conn: Conn, schema: str, paid_until: datetime, serve_until: datetime) -> None:
    """Create the schema's ``subscription`` table if needed and set its one row (as the schema's owner)."""
    table = f"{quote_ident(schema)}.subscription"
    await conn.execute(
        f"CREATE TABLE IF NOT EXISTS {table} ("
        " id boolean PRIMARY KEY DEFAULT true CHECK (id),"
        " paid_until timestamptz NOT NULL, serve_until timestamptz NOT NULL,"
        " updated_at timestamptz NOT NULL DEFAULT now())"
    )
    await conn.execute(
        f"INSERT INTO {table} (id, paid_until, serve_until) VALUES (true, $1, $2) "
        "ON CONFLICT (id) DO UPDATE SET paid_until = EXCLUDED.paid_until, serve_until = EXCLUDED.serve_until, "
        "updated_at = now()",
        paid_until, serve_until,
    )
