"""After a detected theft of a tenant's handoff, the tenant's credentials are replaced, once per theft.

A slot that refuses a wrapping token because someone used it first (or swapped it) has shown that
whoever did so now holds the tenant's bot token and its database and Redis passwords. So the
refusal is recorded durably, keyed by the claim attempt the slot refused (one row per theft,
however many activators, reconcilers and ticks see the same refusal), and then:

- any activator that meets the tenant (the one whose claim was refused, the reconciler re-homing
  it, any later ``assign``) gives the tenant new database and Redis passwords, Vault first and
  then PostgreSQL and Redis, and cuts the sessions opened with the old ones;
- a **managed** bot gets a new token with ``replaceManagedBotToken``, which revokes the stolen one.
  Only the sales bot may call it: the manager's token can read every managed bot's token, so it
  stays in the one process that already holds it rather than being handed to the reconciler or
  put in Vault for the activator policy (which could then read, in the clear, what the policy
  otherwise only hands out wrapped). The sales bot's order watch finishes these rows; until it
  has, ``settle`` keeps the tenant waiting (``ActivationPending``) so no slot starts with the
  stolen token, which would fail once it is revoked;
- a **pasted** token cannot be revoked by us: its owner is told once, by the sales bot in the
  chat where they bought it, to revoke it in BotFather and send a new one. A tenant added by an
  operator (no order, no chat) is left to the operator, who has the ``handoff_refused`` alert.

The one alert per refusal is ``handoff_refused`` (``alert_refusal``), raised by whichever of the
activator waiting for that claim and the reconciler re-homing it sees the refusal first, under an id
named for the claim attempt, so it appears once. Not by the slot: a slot's Consul token writes
nothing but its own state, so no slot can forge, or delete, an alert about another.

Every step is conditional on its column still being empty and runs under a per-tenant lock, so
repeating it (a crash, two activators, two sales bot replicas) does it once; a crash halfway
repeats the step with fresh passwords, which is safe because Vault is written before anything
uses them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import asyncpg
import hvac.exceptions
import structlog
from consul.aio import Consul
from pydantic import SecretStr

from botpool import alerts
from botpool.clients import vault as vault_client
from botpool.db import Conn
from botpool.errors import ActivationPending, TenantSecretMissing
from botpool.tenancy import provision, store
from botpool.tenancy.package import TenantPackage, creation_path, secret_path

if TYPE_CHECKING:
    from botpool.tenancy.activation import Activator  # which calls into this module

log = structlog.get_logger("botpool.rotation")

#: What a slot reports when it refused a handoff (``handoff_refused: <why>``).
REFUSED = "handoff_refused:"
#: Refusals that prove nothing was stolen: the slot could not reach Vault (requests' transport errors).
_NOT_THEFT = (
    "handoff_refused: wrapping lookup failed",
    *(f"handoff_refused: unwrap failed: {name}" for name in ("ConnectionError", "ConnectTimeout", "ReadTimeout",
                                                             "Timeout", "SSLError")),
)

_TABLE = f"{store.SCHEMA}.credential_rotations"
_COLUMNS = (
    "tenant_id, attempt, bot_source, bot_id, order_id, detected_at, credentials_rotated_at, token_rotated_at, "
    "owner_notified_at"
)
#: A managed bot's rotation that still waits for its new token.
_TOKEN_DUE = "bot_source = 'managed' AND token_rotated_at IS NULL"  # noqa: S105 - SQL, not a secret

#: Replaces a managed bot's token and returns the new one (the sales bot's ``replaceManagedBotToken``).
ReplaceToken = Callable[[int], Awaitable[str]]


def is_theft(error: str | None) -> bool:
    """Whether a slot's error says its handoff was used or forged by someone else (not merely unreachable).

    An expired wrapping token reads the same as a used one; treating it as a theft costs one
    needless rotation, while the opposite mistake would leave stolen credentials valid.
    """
    return bool(error) and str(error).startswith(REFUSED) and not str(error).startswith(_NOT_THEFT)


async def alert_refusal(consul: Consul, index: int, tenant_id: str, attempt: str, error: str) -> None:
    """Tell the operators, once per claim attempt, that slot ``index`` refused the handoff of ``tenant_id``.

    ``error`` is the slot's own report (``handoff_refused: <why>``) from its state, which only that
    slot can write; anything else (a failed start, a missing handoff) is no refusal and raises nothing.
    """
    if not error.startswith(REFUSED):
        return
    await alerts.raise_alert_once(
        consul, f"handoff-refused-{attempt}", "handoff_refused",
        f"slot {index} refused the token handoff for {tenant_id}",
        slot=index, tenant_id=tenant_id, reason=error[len(REFUSED):].strip(), attempt=attempt,
    )


@dataclass(frozen=True)
class Rotation:
    """One detected theft and how far its rotation got."""

    tenant_id: str
    attempt: str
    bot_source: str | None
    bot_id: int | None
    order_id: str | None
    detected_at: datetime
    credentials_rotated_at: datetime | None
    token_rotated_at: datetime | None
    owner_notified_at: datetime | None


async def record(db: asyncpg.Pool, tenant_id: str, attempt: str, reason: str) -> bool:
    """Record a theft of the handoff of claim ``attempt``; True only for the first caller (a new theft).

    How the bot came (managed or pasted) and the order are copied from the order now, so the steps
    that follow need nothing else and a tenant without an order (added by an operator) has neither.
    """
    result = await db.execute(
        f"""
        INSERT INTO {_TABLE} (tenant_id, attempt, reason, bot_source, bot_id, order_id)
        SELECT $1, $2, $3, o.bot_source, COALESCE(o.bot_id, t.bot_id), o.order_id
        FROM (SELECT 1) AS one
        LEFT JOIN {store.SCHEMA}.tenants t ON t.tenant_id = $1
        LEFT JOIN {store.SCHEMA}.orders o ON o.tenant_id = $1
        ON CONFLICT (tenant_id, attempt) DO NOTHING
        """,
        tenant_id, attempt, reason[:500],
    )
    created = result.endswith(" 1")
    if created:
        log.error("handoff theft detected; rotating the tenant's credentials", tenant_id=tenant_id, attempt=attempt,
                  reason=reason[:200])
    return created


async def settle(activator: Activator, tenant_id: str) -> None:
    """Finish the tenant's pending rotations before it is handed to a slot again.

    Rotates the database and Redis passwords if a theft is not yet answered, then raises
    ``ActivationPending`` (no slot is claimed; the reconciler retries) while a managed bot
    still waits for its new token from the sales bot. Costs one indexed query when nothing is pending.
    """
    pending = await _pending(activator.db, tenant_id)
    if not pending:
        return
    if any(r.credentials_rotated_at is None for r in pending):
        await rotate_credentials(activator, tenant_id)
    if any(r.bot_source == "managed" and r.token_rotated_at is None for r in pending):
        # The status is left as it is (as for any re-home): the reconciler keeps trying every few seconds.
        raise ActivationPending(
            tenant_id, f"{tenant_id} waits for the sales bot to replace its bot token after a handoff theft."
        )


async def rotate_credentials(activator: Activator, tenant_id: str) -> bool:
    """New database and Redis passwords for every unanswered theft of the tenant; False if none was due.

    Vault is written first, then ``restore_credentials`` applies exactly what Vault holds (so a
    crash in between is repaired like any other), then every session opened with the old passwords
    is cut: a thief already connected would otherwise keep its connection.
    """
    async with activator.db.acquire() as conn, conn.transaction():
        await _lock(conn, tenant_id)
        due = await conn.fetchval(
            f"SELECT count(*) FROM {_TABLE} WHERE tenant_id = $1 AND credentials_rotated_at IS NULL", tenant_id
        )
        if not due:
            return False
        package = await _read_package(activator, tenant_id)
        rotated = dataclasses.replace(
            package, db_password=SecretStr(provision.new_password()), redis_password=SecretStr(provision.new_password())
        )
        await _write_package(activator, rotated)
        await activator.restore_credentials(tenant_id)
        await _cut_sessions(activator, tenant_id)
        await conn.execute(
            f"UPDATE {_TABLE} SET credentials_rotated_at = now() "
            "WHERE tenant_id = $1 AND credentials_rotated_at IS NULL",
            tenant_id,
        )
    log.warning("tenant's database and Redis passwords rotated after a handoff theft", tenant_id=tenant_id)
    return True


async def rotate_managed_tokens(activator: Activator, replace: ReplaceToken) -> list[str]:
    """Give every managed bot whose handoff was stolen a new token (the sales bot runs this); the tenants done.

    The passwords are rotated first if no activator has yet. ``replace`` revokes the stolen token at
    Telegram; the new one goes into the tenant's Vault secret before the row says so, and a crash
    in between only means the token is replaced once more on the next pass.
    """
    rows = await activator.db.fetch(f"SELECT DISTINCT tenant_id FROM {_TABLE} WHERE {_TOKEN_DUE}")
    done: list[str] = []
    for row in rows:
        tenant_id = str(row["tenant_id"])
        await rotate_credentials(activator, tenant_id)
        if await _rotate_token(activator, tenant_id, replace):
            done.append(tenant_id)
    return done


async def _rotate_token(activator: Activator, tenant_id: str, replace: ReplaceToken) -> bool:
    async with activator.db.acquire() as conn, conn.transaction():
        await _lock(conn, tenant_id)
        bot_id = await conn.fetchval(
            f"SELECT bot_id FROM {_TABLE} WHERE tenant_id = $1 AND {_TOKEN_DUE} AND bot_id IS NOT NULL LIMIT 1",
            tenant_id,
        )
        if bot_id is None:
            return False
        package = await _read_package(activator, tenant_id)
        token = SecretStr(await replace(int(bot_id)))
        await _write_package(activator, dataclasses.replace(package, bot_token=token))
        await conn.execute(f"UPDATE {_TABLE} SET token_rotated_at = now() WHERE tenant_id = $1 AND {_TOKEN_DUE}",
                           tenant_id)
    log.warning("managed bot's token replaced after a handoff theft", tenant_id=tenant_id, bot_id=int(bot_id))
    return True


async def claim_owner_notices(db: asyncpg.Pool) -> list[Rotation]:
    """Thefts of pasted tokens whose owner has not been told; each is returned to exactly one caller.

    The caller tells the owner and gives the claim back (``unclaim_owner_notice``) if sending failed,
    as the "ready" message is claimed in the order row.
    """
    rows = await db.fetch(
        f"""
        UPDATE {_TABLE} SET owner_notified_at = now()
        WHERE bot_source = 'pasted' AND order_id IS NOT NULL AND owner_notified_at IS NULL
        RETURNING {_COLUMNS}
        """
    )
    return [Rotation(**dict(r)) for r in rows]


async def unclaim_owner_notice(db: asyncpg.Pool, rotation: Rotation) -> None:
    """Give a notice back so the next pass (or another process) sends it."""
    await db.execute(
        f"UPDATE {_TABLE} SET owner_notified_at = NULL WHERE tenant_id = $1 AND attempt = $2",
        rotation.tenant_id, rotation.attempt,
    )


async def _pending(db: asyncpg.Pool, tenant_id: str) -> list[Rotation]:
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM {_TABLE} WHERE tenant_id = $1 AND (credentials_rotated_at IS NULL OR {_TOKEN_DUE})",
        tenant_id,
    )
    return [Rotation(**dict(r)) for r in rows]


async def _lock(conn: Conn, tenant_id: str) -> None:
    """One rotation of a tenant at a time (its Vault secret is read, changed and written back)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"botpool:rotate:{tenant_id}")


async def _read_package(activator: Activator, tenant_id: str) -> TenantPackage:
    """The tenant's secret, read the only way the activator policy allows: wrapped, then verified and unwrapped."""
    try:
        wrapped = await asyncio.to_thread(
            vault_client.read_wrapped, activator.vault, activator.kv_mount, secret_path(tenant_id), 60
        )
    except hvac.exceptions.InvalidPath:
        raise TenantSecretMissing(f"the secret of tenant {tenant_id} is missing from Vault") from None
    data = await asyncio.to_thread(
        vault_client.unwrap_verified, str(activator.vault.url), wrapped.token,
        creation_path(activator.kv_mount, tenant_id),
    )
    return TenantPackage.from_vault(data)


async def _write_package(activator: Activator, package: TenantPackage) -> None:
    await asyncio.to_thread(
        vault_client.write_kv, activator.vault, activator.kv_mount, secret_path(package.tenant_id), package.to_vault()
    )


async def _cut_sessions(activator: Activator, tenant_id: str) -> None:
    """Close every PostgreSQL session and Redis connection of the tenant's role and user."""
    await activator.db.execute(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1", tenant_id
    )
    await activator.redis_admin.client_kill_filter(user=tenant_id)
