"""The background check of payments still pending: the safety net for notifications that never arrive.

YooKassa's notification can be lost (our endpoint down for longer than its redelivery, a network
partition, a misconfigured URL). Every ``interval_s`` this re-fetches each order awaiting payment, and
each payment still held for capture (a capture that failed after its order was marked paid), and
applies the result through the same ``Payments.apply`` as the notification endpoint, so a paid order is
found within one interval and nothing happens twice. It also hands orders left ``paid`` by a crash back
to fulfilment. The interval is bounded (1 s to 10 min) so a misconfiguration can neither hammer YooKassa
nor leave a buyer waiting for hours.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from botpool.commerce.orders import OrderStatus
from botpool.commerce.payments import Outcome, Payments
from botpool.commerce.yookassa import PaymentGatewayError, PaymentNotFound

log = structlog.get_logger("botpool.commerce.checker")

MIN_INTERVAL_S = 1.0
MAX_INTERVAL_S = 600.0


class PendingChecker:
    """Periodically re-fetches payments of orders awaiting payment."""

    def __init__(self, payments: Payments, *, interval_s: float = 30.0, batch: int = 200) -> None:
        """Check up to ``batch`` orders (oldest first) every ``interval_s`` seconds (clamped to 1..600)."""
        self.payments = payments
        self.interval_s = min(max(interval_s, MIN_INTERVAL_S), MAX_INTERVAL_S)
        self.batch = batch

    async def check_once(self) -> dict[str, Outcome]:
        """One pass: every awaiting order's payment re-fetched and applied; returns the outcome per order."""
        outcomes: dict[str, Outcome] = {}
        due = [
            (order.order_id, order.payment_id)
            for order in await self.payments.orders.with_status(OrderStatus.AWAITING_PAYMENT, limit=self.batch)
            if order.payment_id
        ]
        # Holds not yet captured or released (a capture that failed after the order was marked paid).
        seen = {order_id for order_id, _ in due}
        held = await self.payments.ledger.with_status("waiting_for_capture", limit=self.batch)
        due += [(p.order_id, p.payment_id) for p in held if p.order_id not in seen]
        for order_id, payment_id in due:
            try:
                outcomes[order_id] = await self.payments.refresh(payment_id)
            except PaymentNotFound:
                outcomes[order_id] = await self.payments.apply_unknown(
                    payment_id, f"order {order_id} names a payment YooKassa does not know"
                )
            except PaymentGatewayError as exc:
                log.warning("pending payment not checked", order_id=order_id, error=str(exc))
        resumed = await self.payments.resume()
        changed = {k: v for k, v in outcomes.items() if v is not Outcome.PENDING}
        if changed or resumed:
            log.info("pending payments checked", changed=len(changed), resumed=resumed)
        return outcomes

    async def run(self, stop: asyncio.Event) -> None:
        """Check until ``stop`` is set; a failing pass is logged and the next one runs on schedule."""
        while not stop.is_set():
            try:
                await self.check_once()
            except Exception:
                log.exception("pending payment check failed; retrying next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)
