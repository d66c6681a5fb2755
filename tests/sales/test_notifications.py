"""Notifications: duplicates, replays, out of order, strangers, unpaid, canceled, unknown, wrong amount:
exactly one activation, or none."""

from __future__ import annotations

import base64
import json
import uuid

import aiohttp
import asyncpg

from devstack.buyer import Buyer
from tests.fixtures.yookassa import YooKassaStandin
from tests.pool.conftest import Pool
from tests.sales.conftest import SalesBot
from tests.sales.support import order_row, ready_messages, tenants_for_bot, wait_for


async def _post(url: str, body: dict[str, object], *, source: str = "127.0.0.1") -> tuple[int, str]:
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as session, session.post(url, json=body) as resp:
        return resp.status, await resp.text()


def _notification(payment_id: str, event: str = "payment.succeeded") -> dict[str, object]:
    return {"type": "notification", "event": event,
            "object": {"id": payment_id, "status": event.split(".", 1)[1], "paid": True}}


async def _buyer_at_checkout(new_buyer, unique: str, prefix: str) -> tuple[Buyer, int]:  # type: ignore[no-untyped-def]
    buyer: Buyer = new_buyer()
    await buyer.start()
    created = await buyer.one_tap_bot(f"{prefix}_{unique}_bot", prefix)
    summary = await buyer.details(f"Салон {prefix}")
    await buyer.checkout(summary)
    return buyer, created.id


async def test_duplicate_replayed_and_out_of_order_notifications_activate_once(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str
) -> None:
    buyer, bot_id = await _buyer_at_checkout(new_buyer, unique, "dup")
    assert buyer.payment_id is not None
    # Out of order: a "succeeded" notification before the buyer paid is re-fetched, found pending, ignored.
    status, text = await _post(sales_bot.notify_url, _notification(buyer.payment_id))
    assert (status, text) == (200, "pending")
    await buyer.pay()
    await buyer.ready()
    for event in ("payment.succeeded", "payment.succeeded", "payment.waiting_for_capture"):
        await buyer.yk.renotify(buyer.payment_id, event)
    await buyer.yk.wait_notifications(payment_id=buyer.payment_id, count=5, delivered=True)
    status, text = await _post(sales_bot.notify_url, _notification(buyer.payment_id))
    assert (status, text) == (200, "already_recorded")
    assert await tenants_for_bot(db, bot_id) == 1
    assert len(await ready_messages(buyer)) == 1


async def test_untrusted_unpaid_and_canceled_activate_nothing(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str
) -> None:
    buyer, bot_id = await _buyer_at_checkout(new_buyer, unique, "strange")
    assert buyer.payment_id is not None and buyer.order_id is not None
    status, _ = await _post(sales_bot.notify_url, _notification(buyer.payment_id), source="127.0.0.2")
    assert status == 403
    status, text = await _post(sales_bot.notify_url, _notification(buyer.payment_id))
    assert (status, text) == (200, "pending")  # unpaid: re-fetched, nothing believed
    assert (await order_row(db, buyer.order_id))["status"] == "awaiting_payment"

    await buyer.yk.cancel(buyer.payment_id, reason="expired_on_confirmation")
    told = await buyer.expect("Оплата не прошла")
    assert any(b.get("callback_data") == "s:r:" for row in told["reply_markup"]["inline_keyboard"] for b in row)
    row = await order_row(db, buyer.order_id)
    assert row["status"] == "canceled" and row["tenant_status"] is None
    await buyer.yk.renotify(buyer.payment_id, "payment.canceled")
    await buyer.yk.wait_notifications(payment_id=buyer.payment_id, count=2, delivered=True)
    assert await tenants_for_bot(db, bot_id) == 0
    # The buyer can try again at once.
    await buyer.say("/start")
    await buyer.expect_button("s:t:")


async def test_paying_an_order_after_canceling_it_is_released_and_told_once(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str
) -> None:
    """The buyer taps "cancel", then pays the checkout page still open: no charge, no bot, one message."""
    buyer, bot_id = await _buyer_at_checkout(new_buyer, unique, "late")
    assert buyer.payment_id is not None and buyer.order_id is not None
    await buyer.tap(buyer.checkout_message, "s:c:")
    await buyer.expect("Заказ отменён")
    await buyer.pay()
    await buyer.expect("Вы оплатили уже отменённый заказ")
    await buyer.yk.wait_notifications(payment_id=buyer.payment_id, event="payment.canceled", delivered=True)
    [payment] = await buyer.yk.payments(order_id=buyer.order_id)
    assert payment["status"] == "canceled"
    row = await order_row(db, buyer.order_id)
    assert (row["status"], row["status_reason"], row["tenant_status"]) == ("canceled", "buyer_canceled", None)
    await buyer.yk.renotify(buyer.payment_id, "payment.waiting_for_capture")
    await buyer.yk.wait_notifications(payment_id=buyer.payment_id, count=3, delivered=True)
    assert await tenants_for_bot(db, bot_id) == 0
    told = [m for m in await buyer.tg.messages(buyer.sales, buyer.user.id) if "отменённый" in str(m.get("text"))]
    assert len(told) == 1


async def test_unknown_payment_and_amount_mismatch(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str,
    yookassa_standin: YooKassaStandin,
) -> None:
    unknown = f"2e{uuid.uuid4().hex[:6]}-000f-5000-9000-{uuid.uuid4().hex[:12]}"
    status, text = await _post(sales_bot.notify_url, _notification(unknown))
    assert (status, text) == (200, "unknown payment")
    assert await db.fetchval("SELECT count(*) FROM control.payment_anomalies WHERE payment_id = $1", unknown) == 1

    # A payment of 1 RUB that names a real order (someone crafting a cheap payment for it).
    buyer: Buyer = new_buyer()
    await buyer.start("premium")
    created = await buyer.one_tap_bot(f"cheap_{unique}_bot", "Cheap")
    await buyer.details("Дёшево")
    assert buyer.order_id is not None
    auth = base64.b64encode(f"{sales_bot.shop.shop_id}:{sales_bot.shop.secret_key}".encode()).decode()
    body = {"amount": {"value": "1.00", "currency": "RUB"}, "capture": True,
            "confirmation": {"type": "redirect", "return_url": "https://example.org"},
            "metadata": {"order_id": buyer.order_id}}
    async with aiohttp.ClientSession() as session, session.post(
        f"{yookassa_standin.api_url}/payments", data=json.dumps(body),
        headers={"Authorization": f"Basic {auth}", "Idempotence-Key": uuid.uuid4().hex,
                 "Content-Type": "application/json"},
    ) as resp:
        assert resp.status == 200, await resp.text()
        cheap = (await resp.json())["id"]
    await buyer.yk.pay(cheap)
    await buyer.yk.wait_notifications(payment_id=cheap, event="payment.succeeded", delivered=True)

    async def recorded() -> bool:
        return bool(await db.fetchval(
            "SELECT count(*) FROM control.payment_anomalies WHERE payment_id = $1 AND kind = 'amount_mismatch'", cheap
        ))

    await wait_for(recorded)
    row = await order_row(db, buyer.order_id)
    assert row["status"] == "draft" and row["tenant_status"] is None
    assert await tenants_for_bot(db, created.id) == 0
