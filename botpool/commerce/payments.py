"""From "the buyer taps pay" to "the order is paid": the one place a payment becomes a recorded fact.

``checkout`` creates (or gets back) the order's payment and attaches it; ``apply`` takes a payment as
YooKassa reports it (never as a notification claims it), checks it against its order, records it and
moves the order, each step a conditional update, so duplicates, replays, out-of-order notifications and
the pending checker racing a notification all end in the same single outcome. The order that this call
moved to ``paid`` is handed to the fulfilment seam (``on_paid``) exactly once per process; orders left
``paid`` by a crash are handed over again by ``resume``, and the fulfiller's own conditional
``start_activation`` makes sure only one activation runs.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from consul.aio import Consul

from botpool import alerts
from botpool.commerce.ledger import Ledger
from botpool.commerce.orders import Order, OrderStatus, OrderStore
from botpool.commerce.yookassa import RemotePayment, YooKassaGateway
from botpool.errors import BotpoolError

log = structlog.get_logger("botpool.commerce.payments")

#: The fulfilment seam: called with an order that just became ``paid``; the sales bot wires it to the
#: Activator (``start_activation`` -> ``Activator.activate`` -> ``mark_active`` / ``mark_failed``).
#: Contract: its first step is the conditional ``OrderStore.start_activation`` and it proceeds only if
#: that returned True. ``resume`` hands over every order still ``paid`` again (that is how a crashed or
#: failed fulfilment is retried), so the same order may be offered more than once; the claim decides.
OnPaid = Callable[[Order], Awaitable[None]]
#: Prefix of ``status_reason`` when a payment was canceled; the YooKassa reason follows the colon.
CANCELED_PREFIX = "payment_canceled:"
#: YooKassa's cancellation reason when the shop itself canceled an authorised payment (our release).
RELEASE_REASON = "canceled_by_merchant"


class CheckoutError(BotpoolError):
    """The order cannot be paid for (unknown, incomplete); the message is one sentence for the buyer's bot."""


class Outcome(enum.StrEnum):
    """What ``apply`` did with a payment."""

    PAID = "paid"  # this call moved the order to paid and handed it to fulfilment
    ALREADY_RECORDED = "already_recorded"  # the fact was known; nothing new happened
    PENDING = "pending"  # the buyer has not paid yet
    CANCELED = "canceled"  # the payment was canceled or expired; the order is canceled
    RELEASED = "released"  # the buyer paid an order already canceled: the hold was released, nothing charged
    UNKNOWN_PAYMENT = "unknown_payment"  # no order of ours: anomaly recorded
    AMOUNT_MISMATCH = "amount_mismatch"  # amount or currency differs from the order: anomaly, no activation
    FOREIGN_PAYMENT = "foreign_payment"  # the order already has another payment: anomaly, no activation


@dataclass(frozen=True)
class Checkout:
    """What the bot shows after "pay": the order, its payment and where to pay (while it is pending)."""

    order: Order
    payment_id: str | None
    payment_status: str | None
    confirmation_url: str | None


class Payments:
    """Payment facts for orders: checkout, apply, refresh, resume."""

    def __init__(
        self, orders: OrderStore, ledger: Ledger, gateway: YooKassaGateway, *,
        consul: Consul | None = None, on_paid: OnPaid | None = None,
    ) -> None:
        """Wire the stores, the gateway, Consul for operator alerts and the fulfilment seam."""
        self.orders = orders
        self.ledger = ledger
        self.gateway = gateway
        self.consul = consul
        self.on_paid = on_paid
        self._in_flight: dict[str, asyncio.Task[None]] = {}

    async def checkout(self, order_id: str) -> Checkout:
        """Create the order's payment (or get the existing one back) and return where the buyer pays.

        Safe to call any number of times (a double tap on "pay", a retry after a timeout): the
        Idempotence-Key comes from the order, so YooKassa answers with the same payment.
        """
        order = await self.orders.get(order_id)
        if order is None:
            raise CheckoutError("this order does not exist")
        if order.status is OrderStatus.DRAFT:
            if not order.is_complete:
                raise CheckoutError("the order is missing the bot, the company name or the time zone")
            remote = await self.gateway.create_payment(order)
        elif order.status is OrderStatus.AWAITING_PAYMENT and order.payment_id:
            remote = await self.gateway.fetch(order.payment_id)
        else:
            return Checkout(order, order.payment_id, None, None)
        outcome = await self.apply(remote)
        fresh = await self.orders.get(order_id) or order
        url = remote.confirmation_url if outcome is Outcome.PENDING and remote.status == "pending" else None
        return Checkout(fresh, remote.payment_id, remote.status, url)

    async def refresh(self, payment_id: str) -> Outcome:
        """Re-fetch a payment from YooKassa and apply it (what a notification and the checker both do)."""
        return await self.apply(await self.gateway.fetch(payment_id))

    async def apply(self, remote: RemotePayment) -> Outcome:
        """Check a payment YooKassa reported against its order, record it, and move the order."""
        order = await self.orders.get(remote.order_id) if remote.order_id else None
        if order is None:
            order = await self.orders.by_payment(remote.payment_id)
        if order is None:
            await self._anomaly(
                Outcome.UNKNOWN_PAYMENT, remote.payment_id, None, f"payment {remote.payment_id} names no known order"
            )
            return Outcome.UNKNOWN_PAYMENT
        if order.payment_id and order.payment_id != remote.payment_id:
            await self._anomaly(
                Outcome.FOREIGN_PAYMENT, remote.payment_id, order.order_id,
                f"order {order.order_id} is paid by {order.payment_id}, not {remote.payment_id}",
            )
            return Outcome.FOREIGN_PAYMENT
        if remote.amount_kopecks != order.amount_kopecks or remote.currency != order.currency:
            await self._anomaly(
                Outcome.AMOUNT_MISMATCH, remote.payment_id, order.order_id,
                f"payment {remote.payment_id} is {remote.amount_kopecks} {remote.currency} (minor units); "
                f"order {order.order_id} costs {order.amount_kopecks} {order.currency}",
            )
            return Outcome.AMOUNT_MISMATCH
        first = await self.ledger.record(
            payment_id=remote.payment_id, order_id=order.order_id, amount_kopecks=order.amount_kopecks,
            currency=order.currency, status=remote.status, cancellation_party=remote.cancellation_party,
            cancellation_reason=remote.cancellation_reason,
        )
        if order.status is OrderStatus.DRAFT:
            # Created at YooKassa but not attached (a crash in between, or this is the checkout itself).
            await self.orders.await_payment(order.order_id, remote.payment_id)
        if remote.status == "waiting_for_capture":
            return await self._settle(order.order_id, remote)
        if remote.status == "succeeded":
            if not await self.orders.mark_paid(order.order_id):
                return Outcome.ALREADY_RECORDED
            log.info("order paid", order_id=order.order_id, payment_id=remote.payment_id)
            paid = await self.orders.get(order.order_id)
            if paid is not None:
                self._dispatch(paid)
            return Outcome.PAID
        if remote.status == "canceled":
            reason = CANCELED_PREFIX + (remote.cancellation_reason or "unknown")
            if await self.orders.cancel(order.order_id, reason):
                log.info("order canceled", order_id=order.order_id, payment_id=remote.payment_id, reason=reason)
                return Outcome.CANCELED
            if first and remote.cancellation_reason == RELEASE_REASON:
                # We released the hold of an order canceled before it was paid; whichever caller records
                # that first (the notification, the checker, the releasing call itself) reports it, once.
                log.info("payment for a canceled order released", order_id=order.order_id,
                         payment_id=remote.payment_id)
                return Outcome.RELEASED
            return Outcome.ALREADY_RECORDED
        return Outcome.PENDING

    async def _settle(self, order_id: str, remote: RemotePayment) -> Outcome:
        """Decide an authorised payment: capture it for a live order, release it for a canceled one.

        The order is moved to ``paid`` *before* the money is captured, by the same conditional update the
        buyer's "cancel" races against, so exactly one of them wins: either the order is paid (and the
        capture follows; a capture that fails here is retried by the pending checker, which re-fetches
        every payment left ``waiting_for_capture``) or it is canceled and the hold on the buyer's money is
        released. A buyer who pays an old link of a canceled order is therefore never charged for nothing.
        """
        won = await self.orders.mark_paid(order_id)
        order = await self.orders.get(order_id)
        if order is None:  # pragma: no cover - orders are never deleted
            return Outcome.ALREADY_RECORDED
        if order.status is OrderStatus.CANCELED:
            # Not ``self.apply``: a subclass that tells the buyer about the outcome does so once, on return.
            return await Payments.apply(self, await self.gateway.cancel(remote.payment_id))
        captured = await self.gateway.capture(remote.payment_id)
        await self.ledger.record(
            payment_id=captured.payment_id, order_id=order.order_id, amount_kopecks=order.amount_kopecks,
            currency=order.currency, status=captured.status, cancellation_party=captured.cancellation_party,
            cancellation_reason=captured.cancellation_reason,
        )
        if not won:
            return Outcome.ALREADY_RECORDED
        log.info("order paid", order_id=order.order_id, payment_id=remote.payment_id)
        self._dispatch(order)
        return Outcome.PAID

    async def resume(self) -> int:
        """Hand every order still ``paid`` (its fulfilment was interrupted) to the seam again; returns how many."""
        count = 0
        for order in await self.orders.with_status(OrderStatus.PAID):
            if order.order_id not in self._in_flight:
                self._dispatch(order)
                count += 1
        return count

    def _dispatch(self, order: Order) -> None:
        if self.on_paid is None or order.order_id in self._in_flight:
            return
        task = asyncio.get_running_loop().create_task(self._fulfil(order))
        self._in_flight[order.order_id] = task
        task.add_done_callback(lambda _: self._in_flight.pop(order.order_id, None))

    async def _fulfil(self, order: Order) -> None:
        assert self.on_paid is not None
        try:
            await self.on_paid(order)
        except Exception:
            log.exception("fulfilment of a paid order failed; it stays paid and is retried", order_id=order.order_id)

    async def wait_fulfilments(self) -> None:
        """Wait for every fulfilment this process started (tests, and a graceful shutdown)."""
        while self._in_flight:
            await asyncio.gather(*list(self._in_flight.values()), return_exceptions=True)

    async def apply_unknown(self, payment_id: str, detail: str) -> Outcome:
        """Record (once) that someone told us about a payment YooKassa does not know for our shop."""
        await self._anomaly(Outcome.UNKNOWN_PAYMENT, payment_id, None, detail)
        return Outcome.UNKNOWN_PAYMENT

    async def _anomaly(self, kind: Outcome, payment_id: str, order_id: str | None, detail: str) -> None:
        if not await self.ledger.anomaly(kind.value, payment_id, order_id, detail):
            return
        log.warning("payment anomaly", kind=kind.value, payment_id=payment_id, order_id=order_id)
        if self.consul is None:
            return
        try:
            await alerts.raise_alert(
                self.consul, "payment_anomaly", detail, anomaly=kind.value, payment_id=payment_id,
                order_id=order_id,
            )
        except Exception:
            log.exception("could not raise the payment anomaly alert; it stays in payment_anomalies",
                          payment_id=payment_id)
