"""Tenant status changes on the real control database: each moves only from the status its writer expected."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from botpool.tenancy import store
from botpool.tenancy.activation import Activator

#: The default grace period after the paid one (``control.tenants.grace_days``).
GRACE = timedelta(days=3)


def new_tenant_id() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


async def add(activator: Activator, tenant_id: str, paid_until: datetime) -> None:
    await store.upsert(
        activator.db, tenant_id=tenant_id, company_name="Conditional Salon", admin_telegram_id=42,
        bot_id=int(uuid.uuid4().int % 10**9) + 10**9, paid_until=paid_until, timezone="Europe/Moscow",
        language="ru",
    )


async def status_of(activator: Activator, tenant_id: str) -> str:
    record = await store.get(activator.db, tenant_id)
    assert record is not None
    return record.status


async def test_a_late_active_does_not_undo_an_operators_release(activator: Activator) -> None:
    tenant_id = new_tenant_id()
    await add(activator, tenant_id, datetime.now(UTC) + timedelta(days=30))
    assert await store.mark(activator.db, tenant_id, "released", expected=store.LIVE)
    # An activator that read 'activating' before the release reports its slot's acknowledgement late.
    moved = await store.mark(activator.db, tenant_id, "active", expected=("activating",), slot_index=3)
    assert not moved
    assert await status_of(activator, tenant_id) == "released"


async def test_an_expiry_release_does_not_release_a_tenant_renewed_meanwhile(activator: Activator) -> None:
    tenant_id = new_tenant_id()
    await add(activator, tenant_id, datetime.now(UTC) + timedelta(seconds=1))
    later = datetime.now(UTC) + GRACE + timedelta(seconds=2)
    [expired] = [t for t in await store.expired(activator.db, later) if t.tenant_id == tenant_id]
    # The buyer pays for another month between the reconciler's read and its release.
    await add(activator, tenant_id, datetime.now(UTC) + timedelta(days=30))
    assert not await activator.release_expired(expired.tenant_id, later)
    assert await status_of(activator, tenant_id) == "activating"
    record = await store.get(activator.db, tenant_id)
    assert record is not None and record.paid_until > later


async def test_an_expired_tenant_is_released_once_after_its_grace_period(activator: Activator) -> None:
    tenant_id = new_tenant_id()
    await add(activator, tenant_id, datetime.now(UTC) + timedelta(seconds=1))
    in_grace = datetime.now(UTC) + timedelta(seconds=2)
    assert tenant_id not in {t.tenant_id for t in await store.expired(activator.db, in_grace)}
    assert tenant_id in {t.tenant_id for t in await store.desired(activator.db, in_grace)}, "served in its grace"
    assert not await activator.release_expired(tenant_id, in_grace)
    later = datetime.now(UTC) + GRACE + timedelta(seconds=2)
    assert await activator.release_expired(tenant_id, later)
    assert not await activator.release_expired(tenant_id, later), "a repeat changes nothing"
    assert await status_of(activator, tenant_id) == "released"


async def test_failing_a_tenant_alerts_once_however_many_processes_decide_it(activator: Activator) -> None:
    from botpool import alerts

    tenant_id = new_tenant_id()
    await add(activator, tenant_id, datetime.now(UTC) + timedelta(days=30))
    verdicts = [await activator.fail(tenant_id, "bad specification: test") for _ in range(3)]
    assert verdicts == [True, False, False]
    record = await store.get(activator.db, tenant_id)
    assert record is not None and record.status == "failed" and record.last_error == "bad specification: test"
    raised = [a for a in await alerts.list_alerts(activator.consul) if a.details.get("tenant_id") == tenant_id]
    assert [a.kind for a in raised] == ["tenant_failed"]
