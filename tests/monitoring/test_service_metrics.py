"""The services' metric hooks move the numbers a scrape shows (no stack: the hooks and servers alone)."""

from __future__ import annotations

import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.types import Chat, ErrorEvent, Message, Update, User

from bot_runtime.health import Health, HealthServer
from bot_runtime.metrics import SlotMetrics
from botpool.commerce.orders import Order, OrderStatus
from botpool.commerce.payments import Outcome
from botpool.commerce.yookassa import RemotePayment
from botpool.pool.model import SlotMode
from reconciler.loop import Reconciler
from reconciler.metrics import REPAIR_KINDS, MetricsServer, ReconcilerMetrics
from sales_bot.metrics import SalesMetrics


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def _update(update_id: int, text: str) -> Update:
    user = User(id=7, is_bot=False, first_name="Client")
    message = Message(message_id=update_id, date=datetime.now(UTC), chat=Chat(id=7, type="private"),
                      from_user=user, text=text)
    return Update(update_id=update_id, message=message)


# ---------------------------------------------------------------------------------------------------- slot
def test_slot_state_is_one_state_at_a_time() -> None:
    metrics = SlotMetrics(3)
    value = metrics.registry.get_sample_value
    assert value("botpool_slot_state", {"slot": "3", "state": "waiting"}) == 1
    metrics.set_state(SlotMode.ACTIVE)
    assert value("botpool_slot_state", {"slot": "3", "state": "active"}) == 1
    assert value("botpool_slot_state", {"slot": "3", "state": "waiting"}) == 0
    assert sum(value("botpool_slot_state", {"slot": "3", "state": m.value}) or 0 for m in SlotMode) == 1


def test_slot_activations_are_timed_and_failures_counted_by_kind() -> None:
    metrics = SlotMetrics(1)
    value = metrics.registry.get_sample_value
    metrics.activated(0.4)
    metrics.activated(1.7)
    assert value("botpool_slot_activation_seconds_count", {"slot": "1"}) == 2
    assert value("botpool_slot_activation_seconds_bucket", {"slot": "1", "le": "1.0"}) == 1
    metrics.activation_failed("handoff_refused: unwrapped secret belongs to t_other")
    assert value("botpool_slot_activation_failures_total", {"slot": "1", "reason": "handoff_refused"}) == 1


async def test_tenant_bot_updates_and_handler_errors_are_counted() -> None:
    """Wired as ``TenantBot.start`` wires them: every update counted, a failing handler counted once."""
    metrics = SlotMetrics(2)
    dp = Dispatcher()
    dp.update.outer_middleware(metrics.updates_middleware())
    dp.errors.outer_middleware(metrics.errors_middleware())

    @dp.message(F.text == "boom")
    async def boom(_: Message) -> None:
        raise RuntimeError("handler bug")

    @dp.message()
    async def fine(_: Message) -> None:
        return None

    @dp.errors()
    async def boundary(_: ErrorEvent) -> bool:
        return True

    bot = Bot("42:TEST")
    try:
        for update_id, text in enumerate(["hello", "boom", "hello again"], start=1):
            await dp.feed_update(bot, _update(update_id, text))
    finally:
        await bot.session.close()
    value = metrics.registry.get_sample_value
    assert value("botpool_slot_updates_total", {"slot": "2"}) == 3
    assert value("botpool_slot_handler_errors_total", {"slot": "2"}) == 1


async def test_slot_serves_metrics_beside_health() -> None:
    metrics = SlotMetrics(5)
    metrics.set_state(SlotMode.ACTIVATING)
    port = _free_port()
    server = HealthServer(port, lambda: (Health.PASSING, "WAITING slot=5"), metrics.render)
    await server.start()
    try:
        status, body = await _get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert 'botpool_slot_state{slot="5",state="activating"} 1.0' in body
        assert await _get(f"http://127.0.0.1:{port}/health") == (200, "WAITING slot=5")
    finally:
        await server.stop()


# ------------------------------------------------------------------------------------------------ reconciler
async def test_reconciler_serves_repairs_and_its_leadership() -> None:
    metrics = ReconcilerMetrics("host:1")
    leading = False
    metrics.follow_leader(lambda: leading)
    reconciler = Reconciler(activator=cast(Any, None), metrics=metrics)
    actions: list[str] = []
    reconciler._did(actions, "move", "moving t_a off slot 2 (its node is leaving)")
    server = MetricsServer(metrics, "127.0.0.1", 0)
    port = await server.start()
    try:
        _, body = await _get(f"http://127.0.0.1:{port}/metrics")
        assert 'botpool_reconciler_leader{instance="host:1"} 0.0' in body
        assert 'botpool_reconciler_repairs_total{kind="move"} 1.0' in body
        assert 'botpool_reconciler_repairs_total{kind="release_expired"} 0.0' in body
        leading = True
        _, body = await _get(f"http://127.0.0.1:{port}/metrics")
        assert 'botpool_reconciler_leader{instance="host:1"} 1.0' in body
    finally:
        await server.stop()
    assert actions == ["moving t_a off slot 2 (its node is leaving)"]


@pytest.mark.parametrize("why", ["unassigned", "slot gone", "slot restarted", "slot refused: x", "not acknowledged"])
def test_every_reactivation_reason_has_a_repair_kind(why: str) -> None:
    """The kinds ``Reconciler._start`` derives from its reasons are the ones published at 0 from the start."""
    metrics = ReconcilerMetrics("host:1")
    reconciler = Reconciler(activator=cast(Any, None), metrics=metrics)
    kind = "reactivate_" + why.split(":", 1)[0].replace(" ", "_")
    reconciler._did([], kind, why)
    assert kind in REPAIR_KINDS
    assert metrics.registry.get_sample_value("botpool_reconciler_repairs_total", {"kind": kind}) == 1


# ------------------------------------------------------------------------------------------------- sales bot
def _remote(status: str, amount: int = 99000) -> RemotePayment:
    return RemotePayment(payment_id="p1", status=status, paid=status == "succeeded", amount_kopecks=amount,
                         currency="RUB", order_id="o1", confirmation_url=None, cancellation_party=None,
                         cancellation_reason=None)


def test_sales_payments_revenue_and_anomalies() -> None:
    metrics = SalesMetrics()
    value = metrics.registry.get_sample_value
    metrics.payment(Outcome.PENDING, _remote("pending"))
    metrics.payment(Outcome.PAID, _remote("succeeded"))
    metrics.payment(Outcome.ALREADY_RECORDED, _remote("succeeded"))
    assert value("botpool_sales_payments_total", {"outcome": "paid"}) == 1
    assert value("botpool_sales_payments_total", {"outcome": "pending"}) == 1
    assert value("botpool_sales_revenue_kopecks_total", {"currency": "RUB"}) == 99000  # counted once
    assert value("botpool_sales_payment_anomalies_total", {"kind": "amount_mismatch"}) == 0
    metrics.anomaly("amount_mismatch")
    assert value("botpool_sales_payment_anomalies_total", {"kind": "amount_mismatch"}) == 1


def test_sales_activation_latency_and_orders_by_status() -> None:
    metrics = SalesMetrics()
    value = metrics.registry.get_sample_value
    paid = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    order = Order(
        order_id="o1", tenant_id="t_1", buyer_telegram_id=7, tariff="month", amount_kopecks=99000, currency="RUB",
        period_days=30, company_name="Salon", timezone="Europe/Moscow", language="ru", bot_id=None,
        bot_username="salon_bot", bot_source="pasted", status=OrderStatus.ACTIVE, status_reason=None,
        payment_id="p1", ready_notified_at=None, created_at=paid, updated_at=paid, paid_at=paid,
        activated_at=paid + timedelta(seconds=2.5),
    )
    metrics.activated(order)
    metrics.activated(replace(order, activated_at=None))  # not activated: nothing to observe
    assert value("botpool_sales_activation_seconds_count") == 1
    assert value("botpool_sales_activation_seconds_sum") == 2.5
    metrics.set_orders({"active": 4, "paid": 1})
    assert value("botpool_sales_orders", {"status": "active"}) == 4
    assert value("botpool_sales_orders", {"status": "canceled"}) == 0
