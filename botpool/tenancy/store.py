"""The control schema's tenants table: durable desired state, written before any action is acknowledged.

Every status change is conditional on the status its writer read (``UPDATE ...
WHERE status = ANY(<expected>)``) and says whether it moved: an expiry release
cannot undo a renewal that landed meanwhile, and a late "active" from an
activator cannot revive a tenant an operator released.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from botpool.db import Conn, migrations
from botpool.errors import InvalidTenantSpec, TenantError

SCHEMA = "control"
MIGRATIONS = migrations.load("botpool.tenancy")


@dataclass(frozen=True)
class TenantRecord:
    """One tenant as the control plane knows it."""

    tenant_id: str
    company_name: str
    admin_telegram_id: int
    bot_id: int
    bot_username: str | None
    timezone: str
    language: str
    paid_until: datetime
    status: str
    slot_index: int | None
    last_error: str | None
    updated_at: datetime
    #: Rounds of failed slot attempts since the tenant was last active or renewed (the reconciler's retry bound).
    activation_attempts: int = 0
    #: The reconciler leaves the tenant alone until then (backoff after a failed round); None: at once.
    next_attempt_at: datetime | None = None
    #: Days after ``paid_until`` the bot still runs, telling clients booking is paused (then released).
    grace_days: int = 3
    #: Days a released tenant's data is kept for a renewal to bring back (then deleted).
    retention_days: int = 90

    @property
    def serve_until(self) -> datetime:
        """When the grace period ends and the tenant is released: ``paid_until`` plus ``grace_days``."""
        return self.paid_until + timedelta(days=self.grace_days)

    def failed_for(self, code: str) -> bool:
        """Whether the tenant is failed for the reason ``code`` (one of the ``FAILED_*`` codes)."""
        return self.status == "failed" and (self.last_error or "").startswith(f"{code}:")


async def migrate(conn: Conn) -> None:
    """Create or upgrade the control schema (idempotent, safe under concurrency)."""
    await migrations.apply(conn, SCHEMA, MIGRATIONS)


#: The columns a ``TenantRecord`` is built from, for modules that read tenants in their own queries.
COLUMNS = _COLUMNS = (
    "tenant_id, company_name, admin_telegram_id, bot_id, bot_username, timezone, language, "
    "paid_until, status, slot_index, last_error, updated_at, activation_attempts, next_attempt_at, grace_days, "
    "retention_days"
)

#: The end of a tenant's service in SQL: its paid period plus its grace period.
SERVE_UNTIL = "(paid_until + make_interval(days => grace_days))"

#: Statuses in which a tenant wants a slot.
LIVE = ("activating", "active")

#: Why a tenant failed: the first word of ``last_error`` (``<code>: <sentence>``), for programs to act on.
FAILED_BAD_SPECIFICATION = "bad_specification"
FAILED_SECRET_MISSING = "secret_missing"  # noqa: S105 - a reason code, not a secret
FAILED_INVALID_TOKEN = "invalid_token"  # noqa: S105 - a reason code, not a secret
FAILED_RETRIES_EXHAUSTED = "retries_exhausted"


async def upsert(
    db: asyncpg.Pool | asyncpg.Connection,
    *,
    tenant_id: str,
    company_name: str,
    admin_telegram_id: int,
    bot_id: int,
    paid_until: datetime,
    timezone: str,
    language: str,
) -> TenantRecord:
    """Record (or renew) a tenant as wanting a slot; repeated calls converge on the same row.

    One bot serves one live tenant: registering a bot another live tenant already
    uses raises ``TenantError`` naming that tenant, instead of a database error.
    Values come from a validated ``TenantSpec``; should a check constraint still
    refuse one, the caller gets ``InvalidTenantSpec`` naming the field, never the
    database's "Failing row contains ..." text.
    """
    try:
        row = await _upsert_row(db, tenant_id, company_name, admin_telegram_id, bot_id, paid_until, timezone, language)
    except asyncpg.UniqueViolationError:
        other = await db.fetchval(
            f"SELECT tenant_id FROM {SCHEMA}.tenants WHERE bot_id = $1 AND status <> 'released'", bot_id
        )
        raise TenantError(f"this bot is already registered to tenant {other}; release it first") from None
    except asyncpg.CheckViolationError as exc:
        field = _CHECKED_FIELDS.get(exc.constraint_name or "", "tenant")
        raise InvalidTenantSpec(
            f"{field}_rejected", field, f"The {field.replace('_', ' ')} was refused by the control database."
        ) from None
    return TenantRecord(**dict(row))


#: Check constraints of the tenants table, by the field each protects (for one clear sentence).
_CHECKED_FIELDS = {
    "tenants_tenant_id_check": "tenant_id",
    "tenants_company_name_check": "company_name",
    "tenants_admin_telegram_id_check": "admin_telegram_id",
    "tenants_language_check": "language",
}


async def _upsert_row(
    db: asyncpg.Pool | asyncpg.Connection, tenant_id: str, company_name: str, admin_telegram_id: int,
    bot_id: int, paid_until: datetime, timezone: str, language: str,
) -> asyncpg.Record:
    row = await db.fetchrow(
        f"""
        INSERT INTO {SCHEMA}.tenants (tenant_id, company_name, admin_telegram_id, bot_id, paid_until,
                                      timezone, language, status)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'activating')
        ON CONFLICT (tenant_id) DO UPDATE SET
            company_name = EXCLUDED.company_name, admin_telegram_id = EXCLUDED.admin_telegram_id,
            bot_id = EXCLUDED.bot_id, paid_until = GREATEST(tenants.paid_until, EXCLUDED.paid_until),
            timezone = EXCLUDED.timezone, language = EXCLUDED.language,
            status = CASE WHEN tenants.status = 'active' THEN 'active' ELSE 'activating' END,
            activation_attempts = 0, next_attempt_at = NULL, updated_at = now()
        RETURNING {_COLUMNS}
        """,
        tenant_id, company_name, admin_telegram_id, bot_id, paid_until, timezone, language,
    )
    assert row is not None
    return row


async def mark(
    db: asyncpg.Pool | asyncpg.Connection,
    tenant_id: str,
    status: str,
    *,
    expected: Collection[str],
    slot_index: int | None = None,
    bot_username: str | None = None,
    error: str | None = None,
) -> bool:
    """Record an outcome (active on a slot, failed with a reason, released) if the status is still ``expected``.

    Returns whether the row moved: False means another writer changed the
    tenant first (released it, renewed it, failed it), and the caller acts on
    what is stored rather than on what it believed. Becoming active clears the
    retry count, since the tenant has been served.
    """
    result = await db.execute(
        f"""
        UPDATE {SCHEMA}.tenants SET status = $2, slot_index = $3,
            bot_username = COALESCE($4, bot_username), last_error = $5, updated_at = now(),
            activated_at = CASE WHEN $2 = 'active' THEN now() ELSE activated_at END,
            released_at = CASE WHEN $2 = 'released' THEN now() ELSE released_at END,
            activation_attempts = CASE WHEN $2 = 'active' THEN 0 ELSE activation_attempts END,
            next_attempt_at = CASE WHEN $2 = 'active' THEN NULL ELSE next_attempt_at END
        WHERE tenant_id = $1 AND status = ANY($6::text[])
        """,
        tenant_id, status, slot_index, bot_username, error, list(expected),
    )
    return _moved(result)


async def release_expired(db: asyncpg.Pool | asyncpg.Connection, tenant_id: str, now: datetime) -> bool:
    """Release a tenant whose paid and grace periods ended, unless it was renewed (or released) since it was read.

    The condition on ``paid_until`` is what keeps a payment that lands between
    the reconciler's read and this write from being released.
    """
    result = await db.execute(
        f"""
        UPDATE {SCHEMA}.tenants SET status = 'released', slot_index = NULL, updated_at = now(), released_at = $3
        WHERE tenant_id = $1 AND status = ANY($2::text[]) AND {SERVE_UNTIL} <= $3
        """,
        tenant_id, list(LIVE), now,
    )
    return _moved(result)


async def note_failed_round(
    db: asyncpg.Pool | asyncpg.Connection, tenant_id: str, reason: str, *, base_s: float, max_s: float
) -> int | None:
    """Count one failed round of slot attempts and set when the next may start; the new count (None if not live).

    The pause doubles with each round (``base_s``, ``2 * base_s``, ... up to
    ``max_s``) and is stored, so a restarted or newly elected reconciler keeps
    the pace and the count instead of starting a poison tenant over.
    """
    count: int | None = await db.fetchval(
        f"""
        UPDATE {SCHEMA}.tenants SET activation_attempts = activation_attempts + 1, last_error = $2,
            next_attempt_at = now() + make_interval(
                secs => LEAST($4::float8, $3::float8 * power(2, LEAST(activation_attempts, 30))))
        WHERE tenant_id = $1 AND status = ANY($5::text[])
        RETURNING activation_attempts
        """,
        tenant_id, reason, base_s, max_s, list(LIVE),
    )
    return count


def _moved(result: str) -> bool:
    """Whether an UPDATE's status tag reports one row changed."""
    return result.endswith(" 1")


async def note_waiting(db: asyncpg.Pool | asyncpg.Connection, tenant_id: str, reason: str) -> bool:
    """Keep a tenant queued for a slot after its activator stopped waiting; True if the row was still live.

    The row stays (or becomes) 'activating' with no slot, so the reconciler
    serves it. ``updated_at`` is deliberately left as the activator's start:
    the reconciler treats an 'activating' row untouched for its grace period
    as abandoned, so it takes over at once instead of a minute later.
    Conditional on a live status: a released or failed tenant is never revived.
    """
    result = await db.execute(
        f"""
        UPDATE {SCHEMA}.tenants SET status = 'activating', slot_index = NULL, last_error = $2
        WHERE tenant_id = $1 AND status IN ('activating', 'active')
        """,
        tenant_id, reason,
    )
    return _moved(result)


async def get(db: asyncpg.Pool | asyncpg.Connection, tenant_id: str) -> TenantRecord | None:
    """Return one tenant or None."""
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM {SCHEMA}.tenants WHERE tenant_id = $1", tenant_id)
    return TenantRecord(**dict(row)) if row else None


async def list_all(db: asyncpg.Pool | asyncpg.Connection) -> list[TenantRecord]:
    """Every tenant, newest first."""
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM {SCHEMA}.tenants ORDER BY created_at DESC")
    return [TenantRecord(**dict(r)) for r in rows]


async def desired(db: asyncpg.Pool | asyncpg.Connection, now: datetime) -> list[TenantRecord]:
    """Tenants that must be served now: not released, not failed, paid (or in their grace period) beyond now."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM {SCHEMA}.tenants WHERE status IN ('activating', 'active') AND {SERVE_UNTIL} > $1",
        now,
    )
    return [TenantRecord(**dict(r)) for r in rows]


async def expired(db: asyncpg.Pool | asyncpg.Connection, now: datetime) -> list[TenantRecord]:
    """Tenants still marked as served whose paid and grace periods have ended."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM {SCHEMA}.tenants WHERE status IN ('activating', 'active') AND {SERVE_UNTIL} <= $1",
        now,
    )
    return [TenantRecord(**dict(r)) for r in rows]




async def begin_deletion(db: asyncpg.Pool | asyncpg.Connection, tenant_id: str, now: datetime) -> bool:
    """Mark a released tenant past its retention 'deleted' before anything is removed; True for the one winner.

    The mark comes first so that a renewal landing now is refused ("buy anew")
    instead of reviving a tenant whose data is being removed; a renewal that
    landed just before makes this fail, and nothing is removed.
    """
    result = await db.execute(
        f"""
        UPDATE {SCHEMA}.tenants SET status = 'deleted', deleted_at = $2, slot_index = NULL, updated_at = now()
        WHERE tenant_id = $1 AND status = 'released'
              AND coalesce(released_at, updated_at) + make_interval(days => retention_days) <= $2
        """,
        tenant_id, now,
    )
    return _moved(result)


async def past_retention(db: asyncpg.Pool | asyncpg.Connection, now: datetime) -> list[TenantRecord]:
    """Tenants to delete now: released ones past their retention, and deletions a crash left unfinished."""
    rows = await db.fetch(
        f"""
        SELECT {_COLUMNS} FROM {SCHEMA}.tenants t
        WHERE (status = 'released' AND coalesce(released_at, updated_at) + make_interval(days => retention_days) <= $1)
           OR (status = 'deleted' AND NOT EXISTS (
                   SELECT 1 FROM {SCHEMA}.tenant_deletions d WHERE d.tenant_id = t.tenant_id))
        """,
        now,
    )
    return [TenantRecord(**dict(r)) for r in rows]


async def record_deletion(db: asyncpg.Pool | asyncpg.Connection, tenant_id: str, removed: list[str]) -> bool:
    """Record a finished deletion (when, what was removed); True the first time, idempotent after."""
    result = await db.execute(
        f"INSERT INTO {SCHEMA}.tenant_deletions (tenant_id, deleted_at, released_at, removed) "
        f"SELECT tenant_id, deleted_at, released_at, $2 FROM {SCHEMA}.tenants "
        "WHERE tenant_id = $1 AND status = 'deleted' ON CONFLICT (tenant_id) DO NOTHING",
        tenant_id, removed,
    )
    return result.endswith(" 1")
