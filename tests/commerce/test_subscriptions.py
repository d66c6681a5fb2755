"""Subscriptions against real PostgreSQL: a renewal extends once and from the right moment; reminders are owed
once per period, the most urgent only, and each is handed to one sender.

Time is a parameter everywhere here (the clock these tests move); nothing sleeps.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from botpool.commerce.orders import OrderStatus
from botpool.commerce.subscriptions import RenewalRefused, Subscriptions
from botpool.commerce.tariffs import DEFAULT_TARIFFS
from tests.commerce.conftest import Shop

BASIC = DEFAULT_TARIFFS[0]
OWNER = 5_550_001
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def _tenant(db: asyncpg.Pool, schema: str, tenant_id: str, paid_until: datetime, *, status: str = "active",
                  owner: int = OWNER, bot_id: int = 777_001) -> None:
    await db.execute(
        f'INSERT INTO "{schema}".tenants (tenant_id, company_name, admin_telegram_id, bot_id, bot_username, '
        "timezone, paid_until, status, slot_index) VALUES ($1, 'Салон Анны', $2, $3, 'anna_bot', "
        "'Asia/Vladivostok', $4, $5, CASE WHEN $5 = 'active' THEN 3 END)",
        tenant_id, owner, bot_id, paid_until, status,
    )


async def _paid_renewal(shop: Shop, schema: str, tenant_id: str, paid_at: datetime) -> str:
    """A renewal order for the tenant, paid at ``paid_at`` and handed to fulfilment (``activating``)."""
    subs = Subscriptions(shop.orders.db, schema)
    tenant = await subs.renewable(tenant_id, OWNER)
    order, created = await shop.orders.open_renewal(OWNER, BASIC, tenant)
    assert created and order.kind == "renewal" and order.is_complete
    await shop.orders.db.execute(
        f'UPDATE "{schema}".orders SET status = $2, paid_at = $3 WHERE order_id = $1',
        order.order_id, OrderStatus.ACTIVATING.value, paid_at,
    )
    return order.order_id


async def test_a_renewal_extends_once_from_the_end_of_the_paid_period(shop: Shop, pg_schema: str) -> None:
    db = shop.orders.db
    end = T0 + timedelta(days=2)
    await _tenant(db, pg_schema, "t_renew01", end)
    order_id = await _paid_renewal(shop, pg_schema, "t_renew01", T0)
    subs = Subscriptions(db, pg_schema)

    # Two sales-bot replicas (or a notification seen twice) apply the same paid order at once.
    results = await asyncio.gather(subs.apply_renewal(order_id), subs.apply_renewal(order_id))
    applied = [r for r in results if r is not None]
    assert len(applied) == 1, "exactly one writer extends"
    assert applied[0].paid_until == end + timedelta(days=BASIC.days), "renewing early loses no day"
    assert not applied[0].restarted
    tenant = await subs.tenant("t_renew01")
    assert tenant is not None and tenant.paid_until == end + timedelta(days=BASIC.days)
    assert tenant.status == "active" and tenant.slot_index == 3, "the running bot is left where it runs"
    order = await shop.orders.get(order_id)
    assert order is not None and order.status is OrderStatus.ACTIVE and order.extended_to == tenant.paid_until


async def test_a_late_renewal_counts_from_the_payment_and_brings_a_released_tenant_back(
    shop: Shop, pg_schema: str
) -> None:
    db = shop.orders.db
    await _tenant(db, pg_schema, "t_renew02", T0 - timedelta(days=5), status="released")
    order_id = await _paid_renewal(shop, pg_schema, "t_renew02", T0)
    extension = await Subscriptions(db, pg_schema).apply_renewal(order_id)
    assert extension is not None and extension.restarted
    assert extension.paid_until == T0 + timedelta(days=BASIC.days), "a late renewal pays for no gap"
    tenant = await Subscriptions(db, pg_schema).tenant("t_renew02")
    assert tenant is not None and tenant.status == "activating", "the reconciler serves it again"


async def test_only_the_owner_may_renew_and_only_a_tenant_that_exists(shop: Shop, pg_schema: str) -> None:
    await _tenant(shop.orders.db, pg_schema, "t_renew03", T0 + timedelta(days=9))
    subs = Subscriptions(shop.orders.db, pg_schema)
    with pytest.raises(RenewalRefused):
        await subs.renewable("t_renew03", OWNER + 1)
    with pytest.raises(RenewalRefused):
        await subs.renewable("t_nosuch01", OWNER)
    assert [t.tenant_id for t in await subs.owned(OWNER)] == ["t_renew03"]
    assert await subs.owned(OWNER + 1) == []


async def test_reminders_are_owed_at_3_days_and_1_day_each_once(shop: Shop, pg_schema: str) -> None:
    db = shop.orders.db
    end = T0 + timedelta(days=10)
    await _tenant(db, pg_schema, "t_remind1", end)
    subs = Subscriptions(db, pg_schema)

    assert await subs.due(end - timedelta(days=4)) == 0
    assert await subs.claim(end - timedelta(days=4)) == []

    at_3d = end - timedelta(days=3) + timedelta(minutes=1)
    assert await subs.due(at_3d) == 1
    first, second = await asyncio.gather(subs.claim(at_3d), subs.claim(at_3d))
    claimed = first + second
    assert [(r.kind, r.recipient) for r in claimed] == [("3d", OWNER)], "one sender gets it"
    await subs.sent(claimed[0], at_3d)
    assert await subs.due(at_3d + timedelta(hours=1)) == 0, "sent once per period"
    assert await subs.claim(at_3d + timedelta(hours=1)) == []

    at_1d = end - timedelta(days=1) + timedelta(minutes=1)
    assert await subs.due(at_1d) == 1
    (one_day,) = await subs.claim(at_1d)
    assert one_day.kind == "1d"
    await subs.unclaim(one_day)  # the send failed: the next pass tries again
    (again,) = await subs.claim(at_1d)
    assert again == one_day


async def test_a_sender_down_through_the_3_day_mark_sends_only_the_1_day_reminder(shop: Shop, pg_schema: str) -> None:
    end = T0 + timedelta(days=10)
    await _tenant(shop.orders.db, pg_schema, "t_remind2", end)
    subs = Subscriptions(shop.orders.db, pg_schema)
    at_1d = end - timedelta(hours=20)
    assert await subs.due(at_1d) == 1
    assert [r.kind for r in await subs.claim(at_1d)] == ["1d"]


async def test_a_renewal_starts_a_fresh_series_and_drops_the_old_one(shop: Shop, pg_schema: str) -> None:
    end = T0 + timedelta(days=2)
    await _tenant(shop.orders.db, pg_schema, "t_remind3", end)
    subs = Subscriptions(shop.orders.db, pg_schema)
    assert await subs.due(T0) == 1  # "3 days left" is owed
    order_id = await _paid_renewal(shop, pg_schema, "t_remind3", T0)
    assert await subs.apply_renewal(order_id) is not None
    assert await subs.claim(T0) == [], "a reminder about the old period is not sent after a renewal"
    new_end = end + timedelta(days=BASIC.days)
    assert await subs.due(new_end - timedelta(days=3) + timedelta(minutes=1)) == 1
