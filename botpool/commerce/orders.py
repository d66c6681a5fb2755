"""Orders in the control schema and the state machine every order follows.

``draft -> awaiting_payment -> paid -> activating -> active``, with ``failed`` (activation could not
finish) and ``canceled`` (the payment was canceled or expired, or the buyer gave up). Every transition is
one ``UPDATE ... WHERE order_id = $1 AND status = <expected>`` that reports whether it moved the order,
so of two writers racing (a notification and the pending checker, two sales-bot replicas) exactly one
wins and the other learns it lost; repeating a transition is harmless. The "ready" message is claimed
the same way (``ready_notified_at`` set only while NULL), so it is sent exactly once.

The order keeps everything needed to create the tenant after payment except the bot token, which never
touches this database: it goes to Vault through the Activator.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from botpool.commerce.tariffs import Tariff
from botpool.db.migrations import quote_ident
from botpool.tenancy import store as tenancy_store

DB = asyncpg.Pool | asyncpg.Connection


class OrderStatus(enum.StrEnum):
    """Where an order is; the values are stored in ``orders.status``."""

    DRAFT = "draft"
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    ACTIVATING = "activating"
    ACTIVE = "active"
    FAILED = "failed"
    CANCELED = "canceled"


#: Orders the buyer has not paid yet: at most one per buyer.
OPEN = (OrderStatus.DRAFT, OrderStatus.AWAITING_PAYMENT)
#: The only moves the machine allows; ``transition`` refuses anything else before touching the database.
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.DRAFT: frozenset({OrderStatus.AWAITING_PAYMENT, OrderStatus.CANCELED}),
    OrderStatus.AWAITING_PAYMENT: frozenset({OrderStatus.PAID, OrderStatus.CANCELED}),
    OrderStatus.PAID: frozenset({OrderStatus.ACTIVATING}),
    OrderStatus.ACTIVATING: frozenset({OrderStatus.ACTIVE, OrderStatus.FAILED}),
    OrderStatus.FAILED: frozenset({OrderStatus.ACTIVATING}),
    OrderStatus.ACTIVE: frozenset({OrderStatus.FAILED}),  # its token revoked in BotFather (``token_revoked``)
    OrderStatus.CANCELED: frozenset(),
}
#: Timestamp columns a transition into a status sets.
_STAMPS = {
    OrderStatus.PAID: "paid_at",
    OrderStatus.ACTIVE: "activated_at",
    OrderStatus.CANCELED: "closed_at",
}
BOT_SOURCES = ("managed", "pasted")


class IllegalTransition(ValueError):
    """A transition the state machine does not have (a programming error, not a lost race)."""


@dataclass(frozen=True)
class Order:
    """One order as stored."""

    order_id: str
    tenant_id: str
    buyer_telegram_id: int
    tariff: str
    amount_kopecks: int
    currency: str
    period_days: int
    company_name: str | None
    timezone: str | None
    language: str
    bot_id: int | None
    bot_username: str | None
    bot_source: str | None
    status: OrderStatus
    status_reason: str | None
    payment_id: str | None
    ready_notified_at: datetime | None
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None
    activated_at: datetime | None
    #: ``new`` buys a tenant; ``renewal`` extends the existing tenant ``tenant_id`` (``subscriptions``).
    kind: str = "new"
    #: The tenant's end of period a renewal set (None until it is applied).
    extended_to: datetime | None = None

    @classmethod
    def from_row(cls, row: asyncpg.Record) -> Order:
        """Build from a row of ``_COLUMNS``."""
        data = dict(row)
        data["status"] = OrderStatus(data["status"])
        return cls(**data)

    @property
    def is_complete(self) -> bool:
        """True once the buyer gave everything activation needs (the bot and the salon's profile)."""
        return bool(self.company_name and self.timezone and self.bot_id and self.bot_source)


_COLUMNS = (
    "order_id, tenant_id, buyer_telegram_id, tariff, amount_kopecks, currency, period_days, company_name, "
    "timezone, language, bot_id, bot_username, bot_source, status, status_reason, payment_id, "
    "ready_notified_at, created_at, updated_at, paid_at, activated_at, kind, extended_to"
)


def new_order_id() -> tuple[str, str]:
    """A fresh order id and the tenant id it will activate (same random part, so logs connect them)."""
    token = secrets.token_hex(12)
    return f"o_{token}", f"t_{token}"


class OrderStore:
    """Orders, payments and payment anomalies in one schema (``control`` in production, a test schema in tests)."""

    def __init__(self, db: asyncpg.Pool, schema: str = tenancy_store.SCHEMA) -> None:
        """Use ``db`` and the tables in ``schema`` (created by the control-schema migrations)."""
        self.db = db
        self.schema_name = schema
        self.schema = quote_ident(schema)

    async def migrate(self) -> None:
        """Create or upgrade the schema's tables (the control-schema migrations; idempotent)."""
        from botpool.db import migrations

        async with self.db.acquire() as conn:
            await migrations.apply(conn, self.schema_name, tenancy_store.MIGRATIONS)

    # --- reading --------------------------------------------------------------------------------------

    async def get(self, order_id: str) -> Order | None:
        """One order, or None."""
        row = await self.db.fetchrow(f"SELECT {_COLUMNS} FROM {self.schema}.orders WHERE order_id = $1", order_id)
        return Order.from_row(row) if row else None

    async def by_payment(self, payment_id: str) -> Order | None:
        """The order a payment was attached to, or None."""
        row = await self.db.fetchrow(
            f"SELECT {_COLUMNS} FROM {self.schema}.orders WHERE payment_id = $1", payment_id
        )
        return Order.from_row(row) if row else None

    async def open_for_buyer(self, buyer_telegram_id: int) -> Order | None:
        """The buyer's unpaid order (draft or awaiting payment), if any."""
        row = await self.db.fetchrow(
            f"SELECT {_COLUMNS} FROM {self.schema}.orders WHERE buyer_telegram_id = $1 AND status = ANY($2)",
            buyer_telegram_id, [s.value for s in OPEN],
        )
        return Order.from_row(row) if row else None

    async def for_buyer(self, buyer_telegram_id: int, limit: int = 20) -> list[Order]:
        """The buyer's orders, newest first (what the bot shows as "my purchases")."""
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM {self.schema}.orders WHERE buyer_telegram_id = $1 "
            "ORDER BY created_at DESC LIMIT $2",
            buyer_telegram_id, limit,
        )
        return [Order.from_row(r) for r in rows]

    async def with_status(self, *statuses: OrderStatus, limit: int = 500) -> list[Order]:
        """Orders in any of ``statuses``, oldest change first (recovery after a restart, the pending checker)."""
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM {self.schema}.orders WHERE status = ANY($1) ORDER BY updated_at LIMIT $2",
            [s.value for s in statuses], limit,
        )
        return [Order.from_row(r) for r in rows]

    # --- writing: creation and details ----------------------------------------------------------------

    async def open_order(self, buyer_telegram_id: int, tariff: Tariff, *, language: str = "ru") -> tuple[Order, bool]:
        """The buyer's open order, or a new draft for ``tariff``; the flag says whether it was created.

        A second purchase while one is unpaid returns the unpaid one unchanged (the bot offers to continue
        it), so a double tap or two devices never make two orders. The partial unique index decides races.
        """
        if buyer_telegram_id <= 0:
            raise ValueError("a Telegram user id is a positive number")
        order_id, tenant_id = new_order_id()
        row = await self.db.fetchrow(
            f"""
            INSERT INTO {self.schema}.orders (order_id, tenant_id, buyer_telegram_id, tariff, amount_kopecks,
                                              currency, period_days, language)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT (buyer_telegram_id) WHERE status IN ('draft', 'awaiting_payment') DO NOTHING
            RETURNING {_COLUMNS}
            """,
            order_id, tenant_id, buyer_telegram_id, tariff.code, tariff.price_kopecks, tariff.currency,
            tariff.days, language,
        )
        if row is not None:
            return Order.from_row(row), True
        existing = await self.open_for_buyer(buyer_telegram_id)
        if existing is None:  # the open order moved on between the insert and the read: try once more
            return await self.open_order(buyer_telegram_id, tariff, language=language)
        return existing, False

    async def open_renewal(
        self, buyer_telegram_id: int, tariff: Tariff, tenant: tenancy_store.TenantRecord, *, language: str = "ru",
    ) -> tuple[Order, bool]:
        """A renewal order for ``tenant``, ready to pay, or the buyer's open order; the flag says which.

        Everything the payment needs is copied from the tenant and its purchase (the bot, the salon, the
        zone), so the owner only picks a period. Like ``open_order``, one open order per buyer.
        """
        if buyer_telegram_id <= 0:
            raise ValueError("a Telegram user id is a positive number")
        order_id, _ = new_order_id()
        row = await self.db.fetchrow(
            f"""
            INSERT INTO {self.schema}.orders (order_id, tenant_id, buyer_telegram_id, tariff, amount_kopecks,
                                              currency, period_days, language, kind, company_name, timezone,
                                              bot_id, bot_username, bot_source)
            SELECT $1, $2, $3, $4, $5, $6, $7, $8, 'renewal', $9, $10, $11, $12,
                   coalesce((SELECT bot_source FROM {self.schema}.orders WHERE tenant_id = $2 AND kind = 'new'),
                            'pasted')
            ON CONFLICT (buyer_telegram_id) WHERE status IN ('draft', 'awaiting_payment') DO NOTHING
            RETURNING {_COLUMNS}
            """,
            order_id, tenant.tenant_id, buyer_telegram_id, tariff.code, tariff.price_kopecks, tariff.currency,
            tariff.days, language, tenant.company_name, tenant.timezone, tenant.bot_id, tenant.bot_username,
        )
        if row is not None:
            return Order.from_row(row), True
        existing = await self.open_for_buyer(buyer_telegram_id)
        if existing is None:
            return await self.open_renewal(buyer_telegram_id, tariff, tenant, language=language)
        return existing, False

    async def set_details(
        self, order_id: str, *, company_name: str | None = None, timezone: str | None = None,
        language: str | None = None, bot_id: int | None = None, bot_username: str | None = None,
        bot_source: str | None = None, tariff: Tariff | None = None,
    ) -> bool:
        """Fill in what the buyer chose, only while the order is a draft; False if it is past that.

        Values must already be validated where they entered (the bot); the table's checks are a last
        line of defence, not the user's error message. The bot token is deliberately not a parameter.
        """
        if bot_source is not None and bot_source not in BOT_SOURCES:
            raise ValueError(f"bot_source must be one of {BOT_SOURCES}")
        result = await self.db.execute(
            f"""
            UPDATE {self.schema}.orders SET
                company_name = COALESCE($2, company_name), timezone = COALESCE($3, timezone),
                language = COALESCE($4, language), bot_id = COALESCE($5, bot_id),
                bot_username = COALESCE($6, bot_username), bot_source = COALESCE($7, bot_source),
                tariff = COALESCE($8, tariff), amount_kopecks = COALESCE($9, amount_kopecks),
                currency = COALESCE($10, currency), period_days = COALESCE($11, period_days),
                updated_at = now()
            WHERE order_id = $1 AND status = 'draft'
            """,
            order_id, company_name, timezone, language, bot_id, bot_username, bot_source,
            tariff.code if tariff else None, tariff.price_kopecks if tariff else None,
            tariff.currency if tariff else None, tariff.days if tariff else None,
        )
        return result.endswith(" 1")

    # --- the state machine ----------------------------------------------------------------------------

    async def transition(
        self, order_id: str, expected: OrderStatus | tuple[OrderStatus, ...], to: OrderStatus, *,
        reason: str | None = None, **fields: Any,
    ) -> bool:
        """Move the order from ``expected`` to ``to`` if it is still there; True only for the writer that moved it.

        ``reason`` is stored as ``status_reason`` (what the bot tells the buyer: why canceled, why failed);
        ``fields`` may set ``payment_id``, ``bot_username`` or ``ready_notified_at`` with the move.
        """
        sources = expected if isinstance(expected, tuple) else (expected,)
        for source in sources:
            if to not in TRANSITIONS[source]:
                raise IllegalTransition(f"an order cannot go from {source} to {to}")
        unknown = set(fields) - {"payment_id", "bot_username", "ready_notified_at"}
        if unknown:
            raise ValueError(f"transition cannot set {sorted(unknown)}")
        sets = ["status = $3", "status_reason = $4", "updated_at = now()"]
        args: list[Any] = [order_id, [s.value for s in sources], to.value, reason]
        for name, value in fields.items():
            args.append(value)
            sets.append(f"{name} = ${len(args)}")
        if to in _STAMPS:
            sets.append(f"{_STAMPS[to]} = now()")
        result = await self.db.execute(
            f"UPDATE {self.schema}.orders SET {', '.join(sets)} WHERE order_id = $1 AND status = ANY($2)", *args
        )
        return result.endswith(" 1")

    async def await_payment(self, order_id: str, payment_id: str) -> bool:
        """draft -> awaiting_payment with its payment attached (only a complete draft may be paid for)."""
        result = await self.db.execute(
            f"""
            UPDATE {self.schema}.orders SET status = 'awaiting_payment', payment_id = $2, updated_at = now()
            WHERE order_id = $1 AND status = 'draft' AND company_name IS NOT NULL AND timezone IS NOT NULL
                  AND bot_id IS NOT NULL AND bot_source IS NOT NULL
            """,
            order_id, payment_id,
        )
        return result.endswith(" 1")

    async def mark_paid(self, order_id: str) -> bool:
        """awaiting_payment -> paid: the payment succeeded (True for exactly one caller)."""
        return await self.transition(order_id, OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID)

    async def cancel(self, order_id: str, reason: str) -> bool:
        """draft | awaiting_payment -> canceled with a reason the bot can show."""
        return await self.transition(order_id, OPEN, OrderStatus.CANCELED, reason=reason[:500])

    async def start_activation(self, order_id: str) -> bool:
        """paid | failed -> activating: the caller that gets True is the one that activates."""
        return await self.transition(order_id, (OrderStatus.PAID, OrderStatus.FAILED), OrderStatus.ACTIVATING)

    async def mark_active(self, order_id: str, bot_username: str | None = None) -> bool:
        """activating -> active: the tenant's slot acknowledged."""
        fields = {"bot_username": bot_username} if bot_username else {}
        return await self.transition(order_id, OrderStatus.ACTIVATING, OrderStatus.ACTIVE, **fields)

    async def mark_failed(self, order_id: str, reason: str) -> bool:
        """activating -> failed with a reason; the order keeps its payment and may be activated again."""
        return await self.transition(order_id, OrderStatus.ACTIVATING, OrderStatus.FAILED, reason=reason[:500])

    async def token_revoked(self, order_id: str, reason: str) -> bool:
        """active -> failed: Telegram stopped accepting the running bot's token (its owner revoked it).

        The order keeps its payment, ``/token`` activates it again, and "ready" is owed
        once more (the buyer must hear that the bot runs again), so its mark is cleared.
        """
        return await self.transition(
            order_id, OrderStatus.ACTIVE, OrderStatus.FAILED, reason=reason[:500], ready_notified_at=None
        )

    async def claim_ready_message(self, order_id: str) -> bool:
        """True for exactly one caller, once the order is active: that caller sends "ready" (exactly once)."""
        result = await self.db.execute(
            f"UPDATE {self.schema}.orders SET ready_notified_at = now() "
            "WHERE order_id = $1 AND status = 'active' AND ready_notified_at IS NULL",
            order_id,
        )
        return result.endswith(" 1")

    async def unclaim_ready_message(self, order_id: str) -> None:
        """Give the claim back when sending failed, so a retry (or the next process) sends it."""
        await self.db.execute(
            f"UPDATE {self.schema}.orders SET ready_notified_at = NULL WHERE order_id = $1", order_id
        )
