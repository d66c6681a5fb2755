"""Payments end to end against the YooKassa stand-in and real PostgreSQL, through the real endpoint.

The stand-in delivers notifications to the endpoint as YooKassa would; the endpoint answers 200 only
once the fact is stored, so "the stand-in saw a 200" is the moment a user would see the order paid.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Mapping

import httpx
import pytest
from consul.aio import Consul

from botpool import alerts
from botpool.commerce.checker import PendingChecker
from botpool.commerce.orders import Order, OrderStatus
from botpool.commerce.payments import CheckoutError, Outcome
from botpool.commerce.yookassa import TrustedNetworks, idempotence_key
from tests.commerce.conftest import Shop

pytestmark = pytest.mark.timeout(120)


def buyer() -> int:
    """A Telegram user id no other test uses."""
    return 10_000 + secrets.randbelow(2_000_000_000)


async def post_notification(shop: Shop, body: object, *, source: str = "127.0.0.1") -> httpx.Response:
    """POST a notification to the endpoint from ``source`` (another loopback address plays a stranger)."""
    transport = httpx.AsyncHTTPTransport(local_address=source)
    async with httpx.AsyncClient(transport=transport, timeout=10) as http:
        if isinstance(body, bytes):
            return await http.post(shop.endpoint_url, content=body)
        return await http.post(shop.endpoint_url, json=body)


def notification(payment: Mapping[str, object], event: str = "payment.succeeded") -> dict[str, object]:
    """A notification in YooKassa's shape."""
    return {"type": "notification", "event": event, "object": payment}


async def status(shop: Shop, order_id: str) -> OrderStatus:
    """The order's stored status."""
    order = await shop.orders.get(order_id)
    assert order is not None
    return order.status


async def is_paid(shop: Shop, order_id: str) -> bool:
    """True once the order was paid (it may already have been handed to fulfilment, which claims it)."""
    order = await shop.orders.get(order_id)
    assert order is not None
    return order.paid_at is not None and order.status in (OrderStatus.PAID, OrderStatus.ACTIVATING)


async def test_checkout_is_idempotent_and_carries_the_order(shop: Shop) -> None:
    """A double tap on "pay" gives the same payment and link; amount, currency and order id are the order's."""
    order = await shop.order(buyer())
    first, second = await asyncio.gather(shop.payments.checkout(order.order_id),
                                         shop.payments.checkout(order.order_id))
    third = await shop.payments.checkout(order.order_id)
    assert first.payment_id == second.payment_id == third.payment_id
    assert first.confirmation_url and first.confirmation_url == third.confirmation_url
    assert third.order.status is OrderStatus.AWAITING_PAYMENT
    assert third.order.payment_id == first.payment_id
    [payment] = await shop.standin.control.payments(shop_id=shop.info.shop_id)
    assert payment["amount"] == {"value": "990.00", "currency": "RUB"}
    assert payment["metadata"]["order_id"] == order.order_id
    assert payment["confirmation"]["return_url"] == "https://t.me/botpool_sales_bot"
    assert idempotence_key(order.order_id) == idempotence_key(order.order_id) != idempotence_key("o_other")


async def test_checkout_refuses_an_incomplete_or_unknown_order(shop: Shop) -> None:
    """No payment is created for an order missing its bot or profile, nor for an order that does not exist."""
    order = await shop.order(buyer(), complete=False)
    with pytest.raises(CheckoutError, match="missing"):
        await shop.payments.checkout(order.order_id)
    with pytest.raises(CheckoutError, match="does not exist"):
        await shop.payments.checkout("o_000000000000")
    assert await shop.standin.control.payments(shop_id=shop.info.shop_id) == []


async def test_paid_notification_pays_the_order_once_despite_duplicates_and_replays(shop: Shop) -> None:
    """Pay, then YooKassa redelivers twice and someone replays the body: one paid order, one fulfilment."""
    order = await shop.order(buyer())
    checkout = await shop.payments.checkout(order.order_id)
    assert checkout.payment_id
    await shop.standin.control.pay(checkout.payment_id)
    await shop.standin.control.wait_notifications(payment_id=checkout.payment_id, delivered=True)
    assert await is_paid(shop, order.order_id)
    await shop.standin.control.renotify(checkout.payment_id)
    await shop.standin.control.renotify(checkout.payment_id)
    deliveries = await shop.standin.control.wait_notifications(
        payment_id=checkout.payment_id, count=4, delivered=True
    )
    assert all(d["attempts"][-1]["status"] == 200 for d in deliveries)
    replay = await post_notification(shop, deliveries[0]["body"])
    assert replay.status_code == 200
    assert replay.text == Outcome.ALREADY_RECORDED
    await shop.payments.wait_fulfilments()
    assert shop.fulfilled == [order.order_id]
    record = await shop.ledger.get(checkout.payment_id)
    assert record is not None
    assert record.status == "succeeded"
    # A paid order's checkout says so instead of offering another payment.
    again = await shop.payments.checkout(order.order_id)
    assert again.order.status is OrderStatus.ACTIVATING
    assert again.confirmation_url is None


async def test_out_of_order_and_forged_events_are_re_fetched_not_believed(shop: Shop) -> None:
    """A late waiting_for_capture or a forged "canceled" for a paid payment changes nothing: YooKassa says succeeded."""
    order = await shop.order(buyer())
    checkout = await shop.payments.checkout(order.order_id)
    assert checkout.payment_id
    await shop.standin.control.pay(checkout.payment_id)
    await shop.standin.control.wait_notifications(payment_id=checkout.payment_id, delivered=True)
    await shop.standin.control.renotify(checkout.payment_id, "payment.waiting_for_capture")
    await shop.standin.control.wait_notifications(
        payment_id=checkout.payment_id, event="payment.waiting_for_capture", delivered=True
    )
    forged = {"id": checkout.payment_id, "status": "canceled", "amount": {"value": "1.00", "currency": "RUB"},
              "cancellation_details": {"party": "merchant", "reason": "canceled_by_merchant"}}
    response = await post_notification(shop, notification(forged, "payment.canceled"))
    assert response.status_code == 200
    assert await is_paid(shop, order.order_id)
    await shop.payments.wait_fulfilments()
    assert shop.fulfilled == [order.order_id]


async def test_forged_succeeded_for_an_unpaid_payment_activates_nothing(shop: Shop) -> None:
    """A "succeeded" notification for a payment YooKassa still has pending leaves the order awaiting payment."""
    order = await shop.order(buyer())
    checkout = await shop.payments.checkout(order.order_id)
    forged = {"id": checkout.payment_id, "status": "succeeded", "paid": True,
              "amount": {"value": "990.00", "currency": "RUB"}, "metadata": {"order_id": order.order_id}}
    response = await post_notification(shop, notification(forged))
    assert (response.status_code, response.text) == (200, Outcome.PENDING)
    assert await status(shop, order.order_id) is OrderStatus.AWAITING_PAYMENT
    assert shop.fulfilled == []


async def test_untrusted_sender_is_refused_and_the_checker_recovers_the_lost_notification(shop: Shop) -> None:
    """Deliveries from 127.0.0.2 get 403 and change nothing; the pending checker then finds the payment paid."""
    await shop.standin.control.create_shop(shop_id=shop.info.shop_id, source_address="127.0.0.2")
    order = await shop.order(buyer())
    checkout = await shop.payments.checkout(order.order_id)
    assert checkout.payment_id
    await shop.standin.control.pay(checkout.payment_id)
    [delivery] = await shop.standin.control.wait_notifications(payment_id=checkout.payment_id, attempts=2)
    assert {a.get("status") for a in delivery["attempts"]} == {403}
    assert await status(shop, order.order_id) is OrderStatus.AWAITING_PAYMENT
    assert shop.fulfilled == []
    outcomes = await PendingChecker(shop.payments, interval_s=1).check_once()
    assert outcomes[order.order_id] is Outcome.PAID
    assert await is_paid(shop, order.order_id)
    await shop.payments.wait_fulfilments()
    assert shop.fulfilled == [order.order_id]
    assert "127.0.0.2" not in TrustedNetworks(("127.0.0.1/32",))


async def test_pending_checker_runs_on_its_interval_until_stopped(shop: Shop) -> None:
    """With notifications lost entirely, the running checker pays the order within about one interval."""
    await shop.standin.control.create_shop(shop_id=shop.info.shop_id, notification_url="")
    order = await shop.order(buyer())
    checkout = await shop.payments.checkout(order.order_id)
    assert checkout.payment_id
    stop = asyncio.Event()
    task = asyncio.create_task(PendingChecker(shop.payments, interval_s=0.01).run(stop))
    try:
        await shop.standin.control.pay(checkout.payment_id)
        await asyncio.wait_for(shop.fulfilment_started.wait(), 10)
    finally:
        stop.set()
        await task
    assert await is_paid(shop, order.order_id)
    assert PendingChecker(shop.payments, interval_s=0.01).interval_s == 1.0  # bounded below


async def test_canceled_payment_cancels_the_order_with_a_reason_and_a_new_order_can_follow(shop: Shop) -> None:
    """An expired payment moves the order to canceled with the reason; the buyer can then start again."""
    who = buyer()
    order = await shop.order(who)
    checkout = await shop.payments.checkout(order.order_id)
    assert checkout.payment_id
    await shop.standin.control.cancel(checkout.payment_id)
    await shop.standin.control.wait_notifications(payment_id=checkout.payment_id, delivered=True)
    stored = await shop.orders.get(order.order_id)
    assert stored is not None
    assert (stored.status, stored.status_reason) == (OrderStatus.CANCELED, "payment_canceled:expired_on_confirmation")
    assert shop.fulfilled == []
    retry = await shop.order(who)
    assert retry.order_id != order.order_id


async def paid_after_cancel(shop: Shop) -> tuple[Order, str]:
    """An order the buyer canceled, whose checkout page (still open) they then pay; returns it and the payment id."""
    order = await shop.order(buyer())
    checkout = await shop.payments.checkout(order.order_id)
    assert checkout.payment_id
    assert await shop.orders.cancel(order.order_id, "buyer_canceled")
    await shop.standin.control.pay(checkout.payment_id)
    return order, checkout.payment_id


async def test_paying_the_old_link_of_a_canceled_order_charges_nothing(shop: Shop) -> None:
    """The buyer cancels, then pays the link they still have: the hold is released, the order stays canceled."""
    order, payment_id = await paid_after_cancel(shop)
    await shop.standin.control.wait_notifications(
        payment_id=payment_id, event="payment.canceled", delivered=True
    )
    [payment] = await shop.standin.control.payments(shop_id=shop.info.shop_id)
    assert payment["status"] == "canceled"
    assert payment["cancellation_details"] == {"party": "merchant", "reason": "canceled_by_merchant"}
    stored = await shop.orders.get(order.order_id)
    assert stored is not None
    assert (stored.status, stored.status_reason) == (OrderStatus.CANCELED, "buyer_canceled")
    record = await shop.ledger.get(payment_id)
    assert record is not None
    assert record.status == "canceled"
    await shop.payments.wait_fulfilments()
    assert shop.fulfilled == []


async def test_a_released_hold_is_reported_once_however_many_look(shop: Shop) -> None:
    """The notification, the checker and two refreshes all see the late payment: the buyer would be told once."""
    _, payment_id = await paid_after_cancel(shop)
    checker = PendingChecker(shop.payments, interval_s=1)
    await asyncio.gather(checker.check_once(), shop.payments.refresh(payment_id),
                         shop.payments.refresh(payment_id))
    for event in ("payment.waiting_for_capture", "payment.canceled"):
        await shop.standin.control.wait_notifications(payment_id=payment_id, event=event, delivered=True)
    assert shop.payments.outcomes.count(Outcome.RELEASED) == 1
    assert Outcome.PAID not in shop.payments.outcomes


async def test_cancel_racing_the_payment_either_charges_and_activates_or_charges_nothing(shop: Shop) -> None:
    """The buyer taps "cancel" the moment they pay: the money is taken exactly when the bot is activated."""
    orders = [await shop.order(buyer()) for _ in range(6)]
    checkouts = [await shop.payments.checkout(order.order_id) for order in orders]
    steps = []
    for order, checkout in zip(orders, checkouts, strict=True):
        assert checkout.payment_id
        steps += [shop.orders.cancel(order.order_id, "buyer_canceled"), shop.standin.control.pay(checkout.payment_id)]
    await asyncio.gather(*steps)
    for checkout in checkouts:
        assert checkout.payment_id
        settled = ("payment.succeeded", "payment.canceled")
        deliveries = await shop.standin.control.wait_notifications(payment_id=checkout.payment_id, count=2,
                                                                   delivered=True)
        assert deliveries[-1]["event"] in settled
    await shop.payments.wait_fulfilments()
    remote = {p["metadata"]["order_id"]: p["status"] for p in
              await shop.standin.control.payments(shop_id=shop.info.shop_id)}
    for order in orders:
        stored = await shop.orders.get(order.order_id)
        assert stored is not None
        charged = remote[order.order_id] == "succeeded"
        assert charged == (stored.status is not OrderStatus.CANCELED)
        assert charged == (order.order_id in shop.fulfilled)
        assert remote[order.order_id] in ("succeeded", "canceled")


async def test_unknown_payment_is_acknowledged_and_recorded_once(shop: Shop, consul: Consul) -> None:
    """A notification for a payment YooKassa does not know: 200 (redelivery cannot help), one anomaly, one alert."""
    payment_id = f"{uuid.uuid4().hex[:8]}-000f-5000-8000-{uuid.uuid4().hex[:12]}"
    body = notification({"id": payment_id, "status": "succeeded"})
    first = await post_notification(shop, body)
    second = await post_notification(shop, body)
    assert (first.status_code, second.status_code) == (200, 200)
    [anomaly] = await shop.ledger.anomalies(payment_id)
    assert anomaly.kind == "unknown_payment"
    raised = [a for a in await alerts.list_alerts(consul) if a.details.get("payment_id") == payment_id]
    assert len(raised) == 1
    for alert in raised:
        await alerts.clear(consul, alert.alert_id)


async def test_amount_mismatch_records_an_anomaly_alerts_and_activates_nothing(shop: Shop, consul: Consul) -> None:
    """A paid payment naming our order but for 1.00 RUB: anomaly, alert, the order is not paid."""
    order = await shop.order(buyer())
    async with httpx.AsyncClient(timeout=10) as http:
        created = await http.post(
            f"{shop.standin.api_url}/payments", auth=(shop.info.shop_id, shop.info.secret_key),
            headers={"Idempotence-Key": uuid.uuid4().hex},
            json={"amount": {"value": "1.00", "currency": "RUB"}, "capture": True,
                  "confirmation": {"type": "redirect", "return_url": "https://example.com"},
                  "metadata": {"order_id": order.order_id}},
        )
    payment_id = created.json()["id"]
    await shop.standin.control.pay(payment_id)
    [delivery] = await shop.standin.control.wait_notifications(payment_id=payment_id, delivered=True)
    assert delivery["attempts"][-1]["status"] == 200
    assert await status(shop, order.order_id) is OrderStatus.DRAFT
    assert shop.fulfilled == []
    [anomaly] = await shop.ledger.anomalies(payment_id)
    assert (anomaly.kind, anomaly.order_id) == ("amount_mismatch", order.order_id)
    raised = [a for a in await alerts.list_alerts(consul) if a.details.get("payment_id") == payment_id]
    assert [a.details["anomaly"] for a in raised] == ["amount_mismatch"]
    for alert in raised:
        await alerts.clear(consul, alert.alert_id)


async def test_malformed_notifications_get_400_and_change_nothing(shop: Shop) -> None:
    """Not JSON, not a notification, or no payment id: 400; other events are acknowledged and ignored."""
    for body in (b"not json", b"[1]", {"type": "notification", "event": "payment.succeeded"},
                 {"type": "notification", "event": "payment.succeeded", "object": {"id": 7}}):
        response = await post_notification(shop, body)
        assert response.status_code == 400
    ignored = await post_notification(shop, notification({"id": "r-1"}, "refund.succeeded"))
    assert (ignored.status_code, ignored.text) == (200, "ignored")


async def test_gateway_outage_answers_503_so_yookassa_redelivers(shop: Shop) -> None:
    """When YooKassa cannot be asked, the endpoint does not guess: 503, and the order is unchanged."""
    order = await shop.order(buyer())
    checkout = await shop.payments.checkout(order.order_id)
    shop.gateway.settings = shop.gateway.settings.model_copy(update={"secret_key": shop.gateway.settings.secret_key,
                                                                    "api_url": "http://127.0.0.1:9/v3"})
    response = await post_notification(shop, notification({"id": checkout.payment_id}))
    assert response.status_code == 503
    assert await status(shop, order.order_id) is OrderStatus.AWAITING_PAYMENT


async def test_resume_hands_orders_left_paid_to_fulfilment(shop: Shop) -> None:
    """An order paid before a crash (fulfilment never ran) is handed over again, once."""
    order = await shop.order(buyer())
    assert await shop.orders.await_payment(order.order_id, f"pay-{order.order_id}")
    assert await shop.orders.mark_paid(order.order_id)
    assert await shop.payments.resume() == 1
    await shop.payments.wait_fulfilments()
    assert shop.fulfilled == [order.order_id]
    assert await shop.payments.resume() == 0  # now activating: nothing left to hand over
    assert await status(shop, order.order_id) is OrderStatus.ACTIVATING
