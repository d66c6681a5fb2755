"""Prometheus metrics of the sales bot, served as ``/metrics`` beside ``/health`` on its notification port.

That port is already registered in Consul (service ``sales-bot``, tag
``metrics``), so Prometheus finds it without a second port or listener; the
TLS proxy in front of it in production must forward only
``/yookassa/notifications``.

What is measured, and where the numbers come from:

- orders by status: read from PostgreSQL on each scrape (a gauge), so every
  replica reports the same true counts; dashboards take ``max``, not ``sum``;
- payments by outcome, revenue and payment anomalies: counted by this process
  as it applies payments (``sales_bot.notices.SalesPayments``). ``PAID`` and a
  first-seen anomaly happen once per order or payment across all replicas (the
  conditional updates decide), so those ``sum`` across replicas; other outcomes
  count reports (the pending checker re-applies a pending payment each pass);
- activation latency from payment: observed by the one caller whose
  conditional ``activating -> active`` update won, from the order's
  ``paid_at`` to its ``activated_at``.

The store subclasses below add only the counting: the order and payment logic
stays in ``botpool.commerce`` and ``sales_bot.fulfilment``, untouched. The
registry is private, so two sales bots in one test process do not collide.
"""

from __future__ import annotations

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from botpool.commerce.ledger import Ledger
from botpool.commerce.orders import Order, OrderStatus, OrderStore
from botpool.commerce.payments import Outcome
from botpool.commerce.yookassa import RemotePayment

log = structlog.get_logger("sales_bot.metrics")

#: Seconds from payment to a running bot: normally one to a few, up to the pool wait when the pool is full.
ACTIVATION_BUCKETS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 900.0)


class SalesMetrics:
    """The sales bot's order, payment and activation series in one registry."""

    def __init__(self) -> None:
        """Create every series (each status and outcome at 0, so a rate over a quiet hour is 0, not absent)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.orders = Gauge("botpool_sales_orders", "Orders by status, as stored in PostgreSQL.", ["status"],
                            registry=self.registry)
        self.payments = Counter("botpool_sales_payments",
                                "Payment reports applied, by outcome (paid counts once per order).",
                                ["outcome"], registry=self.registry)
        self.revenue = Counter("botpool_sales_revenue_kopecks",
                               "Money of payments that made an order paid, in minor units (kopecks).",
                               ["currency"], registry=self.registry)
        self.anomalies = Counter("botpool_sales_payment_anomalies",
                                 "Payment anomalies recorded for the first time (amount mismatch, unknown or "
                                 "foreign payment), by kind.", ["kind"], registry=self.registry)
        self.activation = Histogram("botpool_sales_activation_seconds",
                                    "Time from an order's payment to its bot running (paid_at to activated_at).",
                                    buckets=ACTIVATION_BUCKETS, registry=self.registry)
        for status in OrderStatus:
            self.orders.labels(status.value).set(0)
        for outcome in Outcome:
            self.payments.labels(outcome.value)
        for kind in (Outcome.UNKNOWN_PAYMENT, Outcome.AMOUNT_MISMATCH, Outcome.FOREIGN_PAYMENT):
            self.anomalies.labels(kind.value)

    def payment(self, outcome: Outcome, remote: RemotePayment | None = None) -> None:
        """Count one applied payment report; a ``PAID`` one adds its amount to the revenue."""
        self.payments.labels(outcome.value).inc()
        if outcome is Outcome.PAID and remote is not None and remote.amount_kopecks is not None:
            self.revenue.labels(remote.currency or "RUB").inc(remote.amount_kopecks)

    def anomaly(self, kind: str) -> None:
        """Count an anomaly recorded for the first time."""
        self.anomalies.labels(kind).inc()

    def activated(self, order: Order) -> None:
        """Observe the time from ``order``'s payment to its activation (if both are known)."""
        if order.paid_at is not None and order.activated_at is not None:
            self.activation.observe(max(0.0, (order.activated_at - order.paid_at).total_seconds()))

    def set_orders(self, counts: dict[str, int]) -> None:
        """Publish the stored counts by status (a status with no order reads 0)."""
        for status in OrderStatus:
            self.orders.labels(status.value).set(counts.get(status.value, 0))

    async def refresh(self, orders: OrderStore) -> None:
        """Read the order counts from PostgreSQL; on failure keep the last ones (the scrape still answers)."""
        try:
            rows = await orders.db.fetch(f"SELECT status, count(*) AS n FROM {orders.schema}.orders GROUP BY status")
        except Exception as exc:
            log.warning("could not count orders for /metrics", error=type(exc).__name__)
            return
        self.set_orders({str(row["status"]): int(row["n"]) for row in rows})

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)

    def add_routes(self, app: web.Application, orders: OrderStore) -> None:
        """Serve ``/metrics`` on ``app`` (order counts refreshed on each scrape)."""

        async def serve(_request: web.Request) -> web.Response:
            await self.refresh(orders)
            return web.Response(body=self.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

        app.router.add_get("/metrics", serve)


class MeasuredOrders(OrderStore):
    """``OrderStore`` that observes the payment-to-activation time when its ``activating -> active`` update wins."""

    metrics: SalesMetrics | None = None

    async def mark_active(self, order_id: str, bot_username: str | None = None) -> bool:
        """Move the order as ``OrderStore`` does; the one caller that moved it records the latency."""
        moved = await super().mark_active(order_id, bot_username)
        if moved and self.metrics is not None:
            order = await self.get(order_id)
            if order is not None:
                self.metrics.activated(order)
        return moved


class MeasuredLedger(Ledger):
    """``Ledger`` that counts an anomaly the first time it is recorded (replays and duplicates are not counted)."""

    metrics: SalesMetrics | None = None

    async def anomaly(self, kind: str, payment_id: str, order_id: str | None, detail: str) -> bool:
        """Record as ``Ledger`` does; count it when this call recorded it first."""
        first = await super().anomaly(kind, payment_id, order_id, detail)
        if first and self.metrics is not None:
            self.metrics.anomaly(kind)
        return first
