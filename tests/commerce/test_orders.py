"""The order state machine on real PostgreSQL: one writer wins every race, and nothing happens twice."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import pytest

from botpool.commerce.orders import IllegalTransition, OrderStatus, OrderStore
from botpool.commerce.tariffs import DEFAULT_TARIFFS, TariffSettings
from tests.commerce.conftest import BASIC, Shop

pytestmark = pytest.mark.timeout(120)


def buyer() -> int:
    """A Telegram user id no other test uses."""
    return 10_000 + secrets.randbelow(2_000_000_000)


def test_default_tariffs_are_the_products_prices() -> None:
    """basic 990 RUB / 30 days, pro 2490 RUB / 90 days, premium 7990 RUB / 365 days, in kopecks."""
    tariffs = {t.code: (t.price_kopecks, t.currency, t.days) for t in TariffSettings().tariffs}
    assert tariffs == {"basic": (99_000, "RUB", 30), "pro": (249_000, "RUB", 90), "premium": (799_000, "RUB", 365)}


async def test_second_purchase_while_one_is_pending_returns_the_pending_order(shop: Shop) -> None:
    """Ten concurrent "buy" taps by one buyer make one order; each gets that order back."""
    who = buyer()
    results = await asyncio.gather(*(shop.orders.open_order(who, BASIC) for _ in range(10)))
    assert sum(created for _, created in results) == 1
    assert len({order.order_id for order, _ in results}) == 1
    premium = DEFAULT_TARIFFS[2]
    again, created = await shop.orders.open_order(who, premium)
    assert not created
    assert again.order_id == results[0][0].order_id
    assert again.tariff == "basic"


async def test_two_writers_race_for_one_transition_and_exactly_one_wins(shop: Shop) -> None:
    """Notification handler and checker both try awaiting_payment -> paid: one True, one False."""
    order = await shop.order(buyer())
    assert await shop.orders.await_payment(order.order_id, f"pay-{order.order_id}")
    for _ in range(5):
        wins = await asyncio.gather(*(shop.orders.mark_paid(order.order_id) for _ in range(8)))
        assert wins.count(True) <= 1
    stored = await shop.orders.get(order.order_id)
    assert stored is not None
    assert stored.status is OrderStatus.PAID
    assert stored.paid_at is not None
    starts = await asyncio.gather(*(shop.orders.start_activation(order.order_id) for _ in range(8)))
    assert starts.count(True) == 1


async def test_the_machine_refuses_illegal_moves_and_stale_expectations(shop: Shop) -> None:
    """An undefined move raises before touching the database; a move from a state the order left is False."""
    order = await shop.order(buyer())
    with pytest.raises(IllegalTransition):
        await shop.orders.transition(order.order_id, OrderStatus.DRAFT, OrderStatus.ACTIVE)
    assert not await shop.orders.mark_paid(order.order_id)  # still a draft: never paid without a payment
    assert await shop.orders.cancel(order.order_id, "buyer gave up")
    assert not await shop.orders.await_payment(order.order_id, "p")
    stored = await shop.orders.get(order.order_id)
    assert stored is not None
    assert (stored.status, stored.status_reason) == (OrderStatus.CANCELED, "buyer gave up")


async def test_incomplete_draft_cannot_await_payment_and_details_freeze_after_draft(shop: Shop) -> None:
    """Payment needs the bot, the name and the time zone; after that the details cannot change."""
    order = await shop.order(buyer(), complete=False)
    assert not await shop.orders.await_payment(order.order_id, "p1")
    assert await shop.orders.set_details(
        order.order_id, company_name="Barber", timezone="Asia/Yekaterinburg", bot_id=42, bot_source="pasted"
    )
    assert await shop.orders.await_payment(order.order_id, "p1")
    assert not await shop.orders.set_details(order.order_id, company_name="Changed")
    stored = await shop.orders.get(order.order_id)
    assert stored is not None
    assert stored.company_name == "Barber"
    assert stored.bot_source == "pasted"


async def test_the_database_refuses_what_must_never_be_stored(shop: Shop) -> None:
    """A 10 kB company name or an unknown bot source never reaches the table (defence in depth)."""
    order = await shop.order(buyer(), complete=False)
    with pytest.raises(asyncpg.CheckViolationError):
        await shop.orders.set_details(order.order_id, company_name="x" * 10_000)
    with pytest.raises(ValueError, match="bot_source"):
        await shop.orders.set_details(order.order_id, bot_source="stolen")


async def test_ready_message_is_claimed_exactly_once(shop: Shop) -> None:
    """Only an active order can be claimed, and only once; a failed send gives the claim back."""
    order = await shop.order(buyer())
    assert await shop.orders.await_payment(order.order_id, f"pay-{order.order_id}")
    assert await shop.orders.mark_paid(order.order_id)
    assert await shop.orders.start_activation(order.order_id)
    assert not await shop.orders.claim_ready_message(order.order_id)  # not active yet: never "ready" early
    assert await shop.orders.mark_active(order.order_id, "anna_salon_bot")
    claims = await asyncio.gather(*(shop.orders.claim_ready_message(order.order_id) for _ in range(6)))
    assert claims.count(True) == 1
    await shop.orders.unclaim_ready_message(order.order_id)
    assert await shop.orders.claim_ready_message(order.order_id)


async def test_failed_activation_keeps_the_payment_and_can_be_retried(shop: Shop) -> None:
    """activating -> failed stores the reason; failed -> activating is allowed once more."""
    order = await shop.order(buyer())
    assert await shop.orders.await_payment(order.order_id, f"pay-{order.order_id}")
    assert await shop.orders.mark_paid(order.order_id)
    assert await shop.orders.start_activation(order.order_id)
    assert await shop.orders.mark_failed(order.order_id, "Telegram rejected the bot token")
    stored = await shop.orders.get(order.order_id)
    assert stored is not None
    assert (stored.status, stored.payment_id) == (OrderStatus.FAILED, f"pay-{order.order_id}")
    assert await shop.orders.start_activation(order.order_id)


async def test_migration_is_idempotent(shop: Shop) -> None:
    """Running the control migrations again (every process does at start) changes nothing."""
    store = OrderStore(shop.orders.db, shop.orders.schema_name)
    await store.migrate()
    await store.migrate()
