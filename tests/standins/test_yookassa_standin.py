"""The YooKassa stand-in driven by the official ``yookassa`` SDK, as the sales bot will drive it.

The SDK is synchronous and keeps its credentials process-wide, so each call runs in a thread after
configuring the test's own shop. Customer actions go through the control API; notifications are
received by a small aiohttp server in the test, which sees the peer address and answers what the
test wants (to exercise redelivery).
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from yookassa import Configuration, Payment
from yookassa.domain.exceptions import BadRequestError, NotFoundError, UnauthorizedError
from yookassa.domain.notification import WebhookNotificationFactory

from devstack.standins.yookassa.client import ShopInfo, YooKassaControl
from tests.fixtures.yookassa import YooKassaStandin

pytestmark = pytest.mark.timeout(60)
T = TypeVar("T")
_SDK_LOCK = threading.Lock()


async def sdk(standin: YooKassaStandin, shop: ShopInfo, call: Callable[[], T]) -> T:
    """Run one SDK call in a thread with the SDK configured for ``shop`` (its configuration is global)."""

    def run() -> T:
        with _SDK_LOCK:
            Configuration.configure(shop.shop_id, shop.secret_key, api_url=standin.api_url)
            return call()

    return await asyncio.to_thread(run)


def request(value: str = "990.00", **extra: Any) -> dict[str, Any]:
    """A create-payment body as the sales bot sends it."""
    body: dict[str, Any] = {
        "amount": {"value": value, "currency": "RUB"},
        "confirmation": {"type": "redirect", "return_url": "https://t.me/sales_bot"},
        "capture": True,
        "description": "botpool basic, 30 days",
        "metadata": {"order_id": f"o_{uuid.uuid4().hex[:12]}"},
    }
    body.update(extra)
    return body


@dataclass
class Receiver:
    """An HTTP endpoint standing in for the shop's notification URL."""

    url: str = ""
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A notification receiver on a free port; answers 200 unless the test queued other statuses."""
    state = Receiver()

    async def handle(request: web.Request) -> web.Response:
        state.received.append((request.remote or "", await request.json()))
        state.arrived.set()
        return web.Response(status=state.answers.pop(0) if state.answers else 200)

    app = web.Application()
    app.router.add_post("/yookassa", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{runner.addresses[0][1]}/yookassa"
    try:
        yield state
    finally:
        await runner.cleanup()


@pytest.fixture
def control(yookassa_standin: YooKassaStandin) -> YooKassaControl:
    """The stand-in's control client."""
    return yookassa_standin.control


async def test_created_payment_is_pending_with_a_redirect_confirmation(
    yookassa_standin: YooKassaStandin, control: YooKassaControl
) -> None:
    """A new payment: pending, unpaid, the amount and metadata sent, a confirmation URL, test=true."""
    shop = await control.create_shop()
    body = request("2490.00")
    payment = await sdk(yookassa_standin, shop, lambda: Payment.create(body, "key-1"))
    assert payment.status == "pending"
    assert payment.paid is False
    assert str(payment.amount.value) == "2490.00"
    assert payment.amount.currency == "RUB"
    assert payment.metadata["order_id"] == body["metadata"]["order_id"]
    assert payment.confirmation.type == "redirect"
    assert payment.confirmation.confirmation_url.startswith(yookassa_standin.base_url + "/checkout/")
    assert payment.test is True
    again = await sdk(yookassa_standin, shop, lambda: Payment.find_one(payment.id))
    assert again.id == payment.id
    assert again.status == "pending"


async def test_same_idempotence_key_and_body_returns_the_same_payment(
    yookassa_standin: YooKassaStandin, control: YooKassaControl
) -> None:
    """A retried create (same key, same body) does not create a second payment; another key does."""
    shop = await control.create_shop()
    body = request()
    first = await sdk(yookassa_standin, shop, lambda: Payment.create(body, "order-1"))
    second = await sdk(yookassa_standin, shop, lambda: Payment.create(body, "order-1"))
    third = await sdk(yookassa_standin, shop, lambda: Payment.create(body, "order-2"))
    assert first.id == second.id
    assert third.id != first.id
    assert len(await control.payments(shop_id=shop.shop_id)) == 2


async def test_same_idempotence_key_with_another_body_is_refused(
    yookassa_standin: YooKassaStandin, control: YooKassaControl
) -> None:
    """Reusing a key for a different request is YooKassa's 400 naming the Idempotence-Key; nothing is created."""
    shop = await control.create_shop()
    await sdk(yookassa_standin, shop, lambda: Payment.create(request("990.00"), "order-x"))
    with pytest.raises(BadRequestError) as caught:
        await sdk(yookassa_standin, shop, lambda: Payment.create(request("7990.00"), "order-x"))
    assert caught.value.content["type"] == "error"
    assert caught.value.content["code"] == "invalid_request"
    assert caught.value.content["parameter"] == "Idempotence-Key"
    assert len(await control.payments(shop_id=shop.shop_id)) == 1


async def test_wrong_credentials_and_foreign_payments(
    yookassa_standin: YooKassaStandin, control: YooKassaControl
) -> None:
    """A wrong secret key is a 401; another shop's payment is a 404, exactly like a missing one."""
    shop = await control.create_shop()
    other = await control.create_shop()
    payment = await sdk(yookassa_standin, shop, lambda: Payment.create(request(), "k"))
    wrong = ShopInfo(shop.shop_id, "test_wrong", None, "127.0.0.1")
    with pytest.raises(UnauthorizedError) as unauthorized:
        await sdk(yookassa_standin, wrong, lambda: Payment.find_one(payment.id))
    assert unauthorized.value.content["code"] == "invalid_credentials"
    with pytest.raises(NotFoundError):
        await sdk(yookassa_standin, other, lambda: Payment.find_one(payment.id))
    with pytest.raises(NotFoundError):
        await sdk(yookassa_standin, shop, lambda: Payment.find_one("2d8c2b3e-000f-5000-9000-000000000000"))


async def test_malformed_requests_get_yookassas_error_and_can_be_corrected(
    yookassa_standin: YooKassaStandin, control: YooKassaControl
) -> None:
    """A bad return_url is a 400 naming the parameter; the same key with a corrected body then works."""
    shop = await control.create_shop()
    bad = request(confirmation={"type": "redirect", "return_url": "not a url"})
    with pytest.raises(BadRequestError) as caught:
        await sdk(yookassa_standin, shop, lambda: Payment.create(bad, "fix-me"))
    assert caught.value.content["parameter"] == "confirmation.return_url"
    fixed = await sdk(yookassa_standin, shop, lambda: Payment.create(request(), "fix-me"))
    assert fixed.status == "pending"
    async with httpx.AsyncClient() as http:
        no_key = await http.post(
            f"{yookassa_standin.api_url}/payments", json=request(), auth=(shop.shop_id, shop.secret_key)
        )
    assert no_key.status_code == 400
    assert no_key.json()["parameter"] == "Idempotence-Key"


async def test_customer_pays_a_one_stage_payment(
    yookassa_standin: YooKassaStandin, control: YooKassaControl
) -> None:
    """With capture=true the customer's payment is succeeded and paid at once."""
    shop = await control.create_shop()
    payment = await sdk(yookassa_standin, shop, lambda: Payment.create(request(), "k"))
    await control.pay(payment.id)
    seen = await sdk(yookassa_standin, shop, lambda: Payment.find_one(payment.id))
    assert seen.status == "succeeded"
    assert seen.paid is True
    assert seen.captured_at


async def test_two_stage_payment_is_captured_or_canceled_by_the_merchant(
    yookassa_standin: YooKassaStandin, control: YooKassaControl
) -> None:
    """capture=false: paid means waiting_for_capture; capture makes it succeeded, cancel makes it canceled."""
    shop = await control.create_shop()
    kept = await sdk(yookassa_standin, shop, lambda: Payment.create(request(capture=False), "a"))
    dropped = await sdk(yookassa_standin, shop, lambda: Payment.create(request(capture=False), "b"))
    with pytest.raises(BadRequestError):
        await sdk(yookassa_standin, shop, lambda: Payment.capture(kept.id, None, "cap-early"))
    await control.pay(kept.id)
    await control.pay(dropped.id)
    assert (await control.payment(kept.id))["status"] == "waiting_for_capture"
    captured = await sdk(yookassa_standin, shop, lambda: Payment.capture(kept.id, None, "cap-1"))
    assert captured.status == "succeeded"
    canceled = await sdk(yookassa_standin, shop, lambda: Payment.cancel(dropped.id, "cancel-1"))
    assert canceled.status == "canceled"
    assert canceled.cancellation_details.party == "merchant"
    assert canceled.cancellation_details.reason == "canceled_by_merchant"
    with pytest.raises(BadRequestError):
        await sdk(yookassa_standin, shop, lambda: Payment.cancel(kept.id, "cancel-2"))


async def test_payment_the_customer_never_completes_is_canceled_with_details(
    yookassa_standin: YooKassaStandin, control: YooKassaControl
) -> None:
    """An expired or declined payment is canceled with who and why, and can no longer be paid."""
    shop = await control.create_shop()
    expired = await sdk(yookassa_standin, shop, lambda: Payment.create(request(), "e"))
    declined = await sdk(yookassa_standin, shop, lambda: Payment.create(request(), "d"))
    await control.cancel(expired.id)
    await control.cancel(declined.id, "insufficient_funds")
    seen = await sdk(yookassa_standin, shop, lambda: Payment.find_one(expired.id))
    assert seen.status == "canceled"
    assert seen.paid is False
    assert (seen.cancellation_details.party, seen.cancellation_details.reason) == (
        "yoo_money", "expired_on_confirmation",
    )
    assert (await control.payment(declined.id))["cancellation_details"] == {
        "party": "payment_network", "reason": "insufficient_funds",
    }
    with pytest.raises(Exception, match="409"):
        await control.pay(expired.id)


async def test_notifications_are_posted_in_yookassas_shape(
    yookassa_standin: YooKassaStandin, control: YooKassaControl, receiver: Receiver
) -> None:
    """Each status change is POSTed to the shop's URL from 127.0.0.1 and parses with the SDK's factory."""
    shop = await control.create_shop(notification_url=receiver.url)
    paid = await sdk(yookassa_standin, shop, lambda: Payment.create(request(capture=False), "n1"))
    gone = await sdk(yookassa_standin, shop, lambda: Payment.create(request(), "n2"))
    await control.pay(paid.id)
    await sdk(yookassa_standin, shop, lambda: Payment.capture(paid.id, None, "n1-cap"))
    await control.cancel(gone.id)
    await control.wait_notifications(payment_id=paid.id, count=2, delivered=True)
    await control.wait_notifications(payment_id=gone.id, delivered=True)
    # Which events arrived, not in which order: deliveries run concurrently, and YooKassa promises no order
    # either (a receiver reads the payment's status from the object, as the sales bot does).
    events = sorted((body["event"], body["object"]["id"], body["object"]["status"]) for _, body in receiver.received)
    assert events == sorted([
        ("payment.waiting_for_capture", paid.id, "waiting_for_capture"),
        ("payment.succeeded", paid.id, "succeeded"),
        ("payment.canceled", gone.id, "canceled"),
    ])
    assert {remote for remote, _ in receiver.received} == {"127.0.0.1"}
    [canceled] = [body for _, body in receiver.received if body["event"] == "payment.canceled"]
    parsed = WebhookNotificationFactory().create(canceled)
    assert parsed.type == "notification"
    assert parsed.object.cancellation_details.reason == "expired_on_confirmation"
    assert parsed.object.metadata["order_id"]


async def test_notification_not_answered_200_is_redelivered(
    yookassa_standin: YooKassaStandin, control: YooKassaControl, receiver: Receiver
) -> None:
    """A receiver answering 500 and 503 gets the same notification again until it answers 200."""
    shop = await control.create_shop(notification_url=receiver.url)
    payment = await sdk(yookassa_standin, shop, lambda: Payment.create(request(), "r"))
    receiver.answers.extend([500, 503])
    await control.pay(payment.id)
    [delivery] = await control.wait_notifications(payment_id=payment.id, delivered=True)
    assert [a.get("status") for a in delivery["attempts"]] == [500, 503, 200]
    assert len(receiver.received) == 3
    assert receiver.received[0][1] == receiver.received[2][1]


async def test_notifications_can_come_from_a_stranger_address(
    yookassa_standin: YooKassaStandin, control: YooKassaControl, receiver: Receiver
) -> None:
    """A shop set to send from 127.0.0.2 makes the receiver see that peer (how tests play an untrusted sender)."""
    shop = await control.create_shop(notification_url=receiver.url, source_address="127.0.0.2")
    payment = await sdk(yookassa_standin, shop, lambda: Payment.create(request(), "s"))
    await control.pay(payment.id)
    await control.wait_notifications(payment_id=payment.id, delivered=True)
    assert receiver.received[0][0] == "127.0.0.2"


async def test_renotify_replays_the_current_state(
    yookassa_standin: YooKassaStandin, control: YooKassaControl, receiver: Receiver
) -> None:
    """The control API can redeliver a notification (a replay), with any of the payment events."""
    shop = await control.create_shop(notification_url=receiver.url)
    payment = await sdk(yookassa_standin, shop, lambda: Payment.create(request(), "p"))
    await control.pay(payment.id)
    await control.renotify(payment.id)
    await control.renotify(payment.id, "payment.waiting_for_capture")
    await control.wait_notifications(payment_id=payment.id, count=3, delivered=True)
    # Deliveries run concurrently, as YooKassa's do: which events arrive matters, not their order.
    assert sorted(body["event"] for _, body in receiver.received) == [
        "payment.succeeded", "payment.succeeded", "payment.waiting_for_capture",
    ]


async def test_checkout_page_pays_and_returns_to_the_shop(
    yookassa_standin: YooKassaStandin, control: YooKassaControl
) -> None:
    """A person in a browser sees the amount, presses pay and is sent back to the return_url."""
    shop = await control.create_shop()
    payment = await sdk(yookassa_standin, shop, lambda: Payment.create(request("7990.00"), "c"))
    async with httpx.AsyncClient() as http:
        page = await http.get(payment.confirmation.confirmation_url)
        assert "7990.00 RUB" in page.text
        paid = await http.post(f"{payment.confirmation.confirmation_url}/pay")
    assert paid.status_code == 303
    assert paid.headers["location"] == "https://t.me/sales_bot"
    assert (await control.payment(payment.id))["status"] == "succeeded"
