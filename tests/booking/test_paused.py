"""The grace period after the paid one: clients are told booking is paused, the owner keeps the panel and
is told until when the bot runs; a renewal resumes booking without a restart.

The period is the tenant's ``subscription`` row, written here the way the control plane writes it (as
the schema's owner, ``provision.upsert_subscription``); time is the test's clock.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from bot_runtime.booking.clock import ManualClock
from bot_runtime.booking.subscription import REFRESH_S
from botpool.tenancy import provision
from tests.booking.harness import TenantBot
from tests.booking.support import seed_salon
from tests.booking.test_client_flow import book

PAUSED = "приостановлена"


async def test_grace_period_pauses_clients_not_the_owner_and_a_renewal_resumes(
    tenant: TenantBot, db: asyncpg.Pool, clock: ManualClock, pg_schema: str
) -> None:
    await seed_salon(db)
    now = clock()
    async with db.acquire() as conn:
        await provision.upsert_subscription(conn, pg_schema, now + timedelta(days=1), now + timedelta(days=4))
    owner = tenant.person(tenant.config.admin_telegram_id, "Ольга")
    client = tenant.person(601, "Мария")
    assert "Вы записаны" in (await book(client))["text"], "paid: booking works"

    # The paid period ends: a day later, within the grace period.
    clock.advance(timedelta(days=1, seconds=REFRESH_S + 1))
    other = tenant.person(602, "Ирина")
    answer = await other.say("📅 Записаться", expect=PAUSED)
    assert "Студия «Лотос»" in answer["text"]
    assert "Шаг 1 из" not in str(await other.messages()), "no booking flow is offered"
    notice = await owner.say("/start", expect="Подписка на бота закончилась")
    assert "/renew" in notice["text"]
    await owner.wait("Вы администратор", after=int(notice["message_id"]))
    await owner.say("/admin", expect="Управление")

    # A renewal lands (the control plane rewrites the row): booking resumes at the next read.
    async with db.acquire() as conn:
        await provision.upsert_subscription(conn, pg_schema, now + timedelta(days=31), now + timedelta(days=34))
    clock.advance(timedelta(seconds=REFRESH_S + 1))
    assert "Вы записаны" in (await book(other, time="16:00"))["text"]


async def test_a_tenant_without_a_subscription_row_is_never_paused(tenant: TenantBot, db: asyncpg.Pool) -> None:
    await seed_salon(db)
    client = tenant.person(603, "Анна")
    assert "Вы записаны" in (await book(client))["text"]
