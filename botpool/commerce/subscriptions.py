"""Subscriptions: a paid period extended by renewal orders, and the owner reminded before it ends.

A renewal is an order of kind ``renewal`` for an existing tenant. Once paid, it is applied in one
transaction that moves the order to ``active`` (conditionally, from ``activating``) and extends the
tenant's ``paid_until`` from the later of the payment and the current end, so the same payment notified
twice, or seen by two sales-bot replicas, extends once. Nothing else about the tenant changes: same bot,
same data, same slot, same credentials (a running bot is never touched). A tenant released at expiry
(its data kept) goes back to ``activating``, where the reconciler serves it again with everything it had.

Reminders are an outbox keyed by the period they are about: ``due`` writes the rows owed at ``now``
(3 days and 1 day before the end; only the most urgent one when the sender was down through the
first), ``claim`` hands each to exactly one sender, which stamps it sent or gives it back. Time is
always a parameter, so tests move it instead of waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from botpool.db.migrations import quote_ident
from botpool.tenancy import provision
from botpool.tenancy import store as tenancy_store

#: Reminders before the end of a paid period: their kind and how long before the end each is due.
REMINDERS: dict[str, timedelta] = {"3d": timedelta(days=3), "1d": timedelta(days=1)}
#: A claim older than this is taken to belong to a sender that died while sending: it is handed out again.
CLAIM_STALE = timedelta(minutes=5)
#: Tenant statuses whose owner is reminded (a released or failed tenant is not about to lose anything).
REMINDED = ("active", "activating")
#: Tenant statuses a renewal can extend (after retention the tenant is gone and must be bought anew).
RENEWABLE = ("active", "activating", "failed", "released")


class RenewalRefused(ValueError):
    """The tenant cannot be renewed (unknown, or not this owner's): the owner is told to buy anew."""


@dataclass(frozen=True)
class Extension:
    """What applying a renewal did: the tenant's new end, and whether it was released (its bot starts again)."""

    tenant_id: str
    paid_until: datetime
    restarted: bool


@dataclass(frozen=True)
class Reminder:
    """One reminder to send: to whom, about which tenant and which period."""

    tenant_id: str
    kind: str
    paid_until: datetime
    recipient: int


class Subscriptions:
    """The control schema's view of paid periods: renewals applied once, reminders sent once."""

    def __init__(self, db: asyncpg.Pool, schema: str = tenancy_store.SCHEMA) -> None:
        """Use the tables in ``schema`` (created by the control-schema migrations)."""
        self.db = db
        self.schema = quote_ident(schema)

    async def tenant(self, tenant_id: str) -> tenancy_store.TenantRecord | None:
        """One tenant as stored, or None."""
        row = await self.db.fetchrow(
            f"SELECT {tenancy_store.COLUMNS} FROM {self.schema}.tenants WHERE tenant_id = $1", tenant_id
        )
        return tenancy_store.TenantRecord(**dict(row)) if row else None

    async def renewable(self, tenant_id: str, owner_telegram_id: int) -> tenancy_store.TenantRecord:
        """The tenant an owner asked to renew; ``RenewalRefused`` if there is none they own that can be."""
        tenant = await self.tenant(tenant_id)
        if tenant is None or tenant.admin_telegram_id != owner_telegram_id or tenant.status not in RENEWABLE:
            raise RenewalRefused(tenant_id)
        return tenant

    async def owned(self, owner_telegram_id: int) -> list[tenancy_store.TenantRecord]:
        """The renewable tenants an owner administers, soonest end first (what ``/renew`` lists)."""
        rows = await self.db.fetch(
            f"SELECT {tenancy_store.COLUMNS} FROM {self.schema}.tenants "
            "WHERE admin_telegram_id = $1 AND status = ANY($2::text[]) ORDER BY paid_until LIMIT 20",
            owner_telegram_id, list(RENEWABLE),
        )
        return [tenancy_store.TenantRecord(**dict(r)) for r in rows]

    async def apply_renewal(self, order_id: str) -> Extension | None:
        """Finish a paid renewal order: active, and its tenant extended; None if it was already applied.

        The order's move and the extension are one transaction, conditional on the order still being
        ``activating``: exactly one caller extends. The period counts from the later of the payment and
        the current end, so renewing early loses no day and renewing late pays for no gap.
        """
        async with self.db.acquire() as conn, conn.transaction():
            order = await conn.fetchrow(
                f"SELECT tenant_id, period_days, coalesce(paid_at, now()) AS paid_at FROM {self.schema}.orders "
                "WHERE order_id = $1 AND kind = 'renewal' AND status = 'activating' FOR UPDATE",
                order_id,
            )
            if order is None:
                return None
            before = await conn.fetchval(
                f"SELECT status FROM {self.schema}.tenants WHERE tenant_id = $1 FOR UPDATE", order["tenant_id"]
            )
            if before not in RENEWABLE:  # deleted after the payment: the order stays activating for the operator
                raise RenewalRefused(order["tenant_id"])
            extended = await conn.fetchrow(
                f"""
                UPDATE {self.schema}.tenants SET
                    paid_until = GREATEST(paid_until, $2) + make_interval(days => $3),
                    status = CASE WHEN status = 'released' THEN 'activating' ELSE status END,
                    released_at = CASE WHEN status = 'released' THEN NULL ELSE released_at END,
                    activation_attempts = 0, next_attempt_at = NULL, updated_at = now()
                WHERE tenant_id = $1 RETURNING paid_until, paid_until + make_interval(days => grace_days) AS serve_until
                """,
                order["tenant_id"], order["paid_at"], order["period_days"],
            )
            assert extended is not None  # the row was locked above
            paid_until = extended["paid_until"]
            # What the bot reads changes in the same transaction: a bot paused in its grace period resumes.
            await provision.write_subscription(conn, order["tenant_id"], paid_until, extended["serve_until"])
            await conn.execute(
                f"UPDATE {self.schema}.orders SET status = 'active', activated_at = now(), updated_at = now(), "
                "extended_to = $2 WHERE order_id = $1",
                order_id, paid_until,
            )
        return Extension(order["tenant_id"], paid_until, restarted=before == "released")

    # --- reminders ------------------------------------------------------------------------------------

    async def due(self, now: datetime) -> int:
        """Write the reminders owed at ``now`` into the outbox (once per tenant, kind and period); how many."""
        written = 0
        async with self.db.acquire() as conn:
            for kind, before in REMINDERS.items():
                # Only the most urgent reminder is owed: one day before the end, "3 days left" is wrong.
                later = [b for b in REMINDERS.values() if b < before]
                closer = min(later) if later else None
                status = await conn.execute(
                    f"""
                    INSERT INTO {self.schema}.subscription_reminders (tenant_id, kind, paid_until, recipient)
                    SELECT tenant_id, $1, paid_until, admin_telegram_id FROM {self.schema}.tenants
                    WHERE status = ANY($2::text[]) AND paid_until > $3 AND paid_until - $4::interval <= $3
                          AND ($5::interval IS NULL OR paid_until - $5::interval > $3)
                    ON CONFLICT DO NOTHING
                    """,
                    kind, list(REMINDED), now, before, closer,
                )
                written += int(status.split()[-1])
        return written

    async def claim(self, now: datetime, limit: int = 50) -> list[Reminder]:
        """Hand out unsent reminders (each to one caller; a stale claim again), still about the current period."""
        rows = await self.db.fetch(
            f"""
            UPDATE {self.schema}.subscription_reminders r SET claimed_at = $1
            FROM {self.schema}.tenants t
            WHERE t.tenant_id = r.tenant_id AND t.paid_until = r.paid_until AND t.status = ANY($4::text[])
                  AND r.sent_at IS NULL AND (r.claimed_at IS NULL OR r.claimed_at < $2)
                  AND (r.tenant_id, r.kind, r.paid_until) IN (
                      SELECT tenant_id, kind, paid_until FROM {self.schema}.subscription_reminders
                      WHERE sent_at IS NULL ORDER BY created_at LIMIT $3)
            RETURNING r.tenant_id, r.kind, r.paid_until, r.recipient
            """,
            now, now - CLAIM_STALE, limit, list(REMINDED),
        )
        return [Reminder(**dict(r)) for r in rows]

    async def sent(self, reminder: Reminder, now: datetime, *, outcome: str = "sent") -> None:
        """Stamp a claimed reminder done: ``sent``, or never to be retried (``blocked``: the owner blocked the
        bot; ``undeliverable``: Telegram knows no chat with them, e.g. an owner who never wrote to it)."""
        if outcome not in ("sent", "blocked", "undeliverable"):
            raise ValueError(f"unknown reminder outcome {outcome!r}")
        await self.db.execute(
            f"UPDATE {self.schema}.subscription_reminders SET sent_at = $4, outcome = $5 "
            "WHERE tenant_id = $1 AND kind = $2 AND paid_until = $3",
            reminder.tenant_id, reminder.kind, reminder.paid_until, now, outcome,
        )

    async def unclaim(self, reminder: Reminder) -> None:
        """Give a claim back after a failed send, so the next pass tries again."""
        await self.db.execute(
            f"UPDATE {self.schema}.subscription_reminders SET claimed_at = NULL "
            "WHERE tenant_id = $1 AND kind = $2 AND paid_until = $3 AND sent_at IS NULL",
            reminder.tenant_id, reminder.kind, reminder.paid_until,
        )
