"""The payments table and payment anomalies: what YooKassa said, recorded before anyone is told.

A payment's status only moves forward (``pending -> waiting_for_capture -> succeeded | canceled``), so an
old notification arriving late, or a re-fetch racing another, can never move a stored fact backwards.
Anomalies (a payment for no known order, an amount that does not match its order) are recorded once per
kind and payment: the caller learns whether it is the first time, and only then raises the alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from botpool.db.migrations import quote_ident
from botpool.tenancy import store as tenancy_store

#: For each status, the stored statuses it may replace (forward moves only; same status is a no-op).
_FORWARD: dict[str, tuple[str, ...]] = {
    "pending": (),
    "waiting_for_capture": ("pending",),
    "succeeded": ("pending", "waiting_for_capture"),
    "canceled": ("pending", "waiting_for_capture"),
}


@dataclass(frozen=True)
class PaymentRecord:
    """A payment as last recorded."""

    payment_id: str
    order_id: str
    amount_kopecks: int
    currency: str
    status: str
    cancellation_party: str | None
    cancellation_reason: str | None
    updated_at: datetime


@dataclass(frozen=True)
class Anomaly:
    """A payment that did not add up."""

    kind: str
    payment_id: str
    order_id: str | None
    detail: str
    created_at: datetime


class Ledger:
    """Payments and anomalies in one schema (``control`` in production)."""

    def __init__(self, db: asyncpg.Pool, schema: str = tenancy_store.SCHEMA) -> None:
        """Use ``db`` and the tables in ``schema``."""
        self.db = db
        self.schema = quote_ident(schema)

    async def record(
        self, *, payment_id: str, order_id: str, amount_kopecks: int, currency: str, status: str,
        cancellation_party: str | None = None, cancellation_reason: str | None = None,
    ) -> bool:
        """Store the payment or move its status forward; True if this call changed what was stored."""
        if status not in _FORWARD:
            raise ValueError(f"unknown payment status {status!r}")
        async with self.db.acquire() as conn, conn.transaction():
            inserted = await conn.execute(
                f"""
                INSERT INTO {self.schema}.payments (payment_id, order_id, amount_kopecks, currency, status,
                    cancellation_party, cancellation_reason, succeeded_at, canceled_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7,
                        CASE WHEN $5 = 'succeeded' THEN now() END, CASE WHEN $5 = 'canceled' THEN now() END)
                ON CONFLICT (payment_id) DO NOTHING
                """,
                payment_id, order_id, amount_kopecks, currency, status, cancellation_party, cancellation_reason,
            )
            if inserted.endswith(" 1"):
                return True
            moved = await conn.execute(
                f"""
                UPDATE {self.schema}.payments SET status = $2, cancellation_party = $3, cancellation_reason = $4,
                    updated_at = now(),
                    succeeded_at = CASE WHEN $2 = 'succeeded' THEN now() ELSE succeeded_at END,
                    canceled_at = CASE WHEN $2 = 'canceled' THEN now() ELSE canceled_at END
                WHERE payment_id = $1 AND status = ANY($5)
                """,
                payment_id, status, cancellation_party, cancellation_reason, list(_FORWARD[status]),
            )
            return moved.endswith(" 1")

    async def get(self, payment_id: str) -> PaymentRecord | None:
        """One recorded payment, or None."""
        row = await self.db.fetchrow(
            f"SELECT payment_id, order_id, amount_kopecks, currency, status, cancellation_party, "
            f"cancellation_reason, updated_at FROM {self.schema}.payments WHERE payment_id = $1",
            payment_id,
        )
        return PaymentRecord(**dict(row)) if row else None

    async def with_status(self, status: str, limit: int = 500) -> list[PaymentRecord]:
        """Recorded payments in ``status``, oldest change first (the checker's list of holds to settle)."""
        rows = await self.db.fetch(
            f"SELECT payment_id, order_id, amount_kopecks, currency, status, cancellation_party, "
            f"cancellation_reason, updated_at FROM {self.schema}.payments WHERE status = $1 "
            "ORDER BY updated_at LIMIT $2",
            status, limit,
        )
        return [PaymentRecord(**dict(r)) for r in rows]

    async def anomaly(self, kind: str, payment_id: str, order_id: str | None, detail: str) -> bool:
        """Record an anomaly; True only the first time this kind is seen for this payment (alert then)."""
        row = await self.db.fetchval(
            f"""
            INSERT INTO {self.schema}.payment_anomalies (kind, payment_id, order_id, detail)
            VALUES ($1, $2, $3, $4) ON CONFLICT (kind, payment_id) DO NOTHING RETURNING anomaly_id
            """,
            kind, payment_id[:64], order_id, detail[:1000],
        )
        return row is not None

    async def anomalies(self, payment_id: str | None = None) -> list[Anomaly]:
        """Recorded anomalies, oldest first, optionally for one payment."""
        rows = await self.db.fetch(
            f"SELECT kind, payment_id, order_id, detail, created_at FROM {self.schema}.payment_anomalies "
            "WHERE $1::text IS NULL OR payment_id = $1 ORDER BY anomaly_id",
            payment_id,
        )
        return [Anomaly(**dict(r)) for r in rows]
