"""/pool tells the numbers Consul and Nomad hold; /tenant and /tenants describe tenants or say in one
sentence that there is no such tenant."""

from __future__ import annotations

import re

import pytest

from botpool.pool import protocol
from botpool.pool.model import ClaimKind
from tests.operator.conftest import Chat, PoolJob
from tests.scaler.conftest import Tenants

pytestmark = pytest.mark.stack


def _number(text: str, label: str) -> tuple[int, int]:
    match = re.search(rf"{label}: (\d+)/(\d+)", text)
    assert match, text
    return int(match.group(1)), int(match.group(2))


async def test_pool_shows_what_consul_and_nomad_hold(admin: Chat, pool: PoolJob, tenants: Tenants) -> None:
    tenant = await tenants.activate()
    try:
        text = (await admin.say("/pool"))["text"]
        snap = await protocol.snapshot(pool.consul)
        desired = await pool.desired()
        busy = sum(1 for c in snap.claims.values() if c.kind is ClaimKind.TENANT)
        assert "🏊 СТАТУС ПУЛА БОТОВ" in text
        assert _number(text, "⚪ Свободно") == (len(snap.free()), desired)
        assert _number(text, "🟢 Занято") == (busy, desired)
        assert busy >= 1 and f"Загрузка: {busy * 100 / desired:.0f}%" in text
        assert f"#{tenant.slot} active {tenant.tenant_id} @{tenant.bot.username}" in text
        for index in range(desired):
            assert f"#{index} " in text
    finally:
        await tenants.release(tenant)


async def test_tenant_card_and_unknown_tenant(admin: Chat, tenants: Tenants) -> None:
    tenant = await tenants.activate()
    try:
        card = (await admin.say(f"/tenant {tenant.tenant_id}"))["text"]
        assert tenant.company in card and "Статус: active" in card and f"Слот: {tenant.slot}" in card
        assert "проверка проходит" in card
        by_bot = (await admin.say(f"/tenant @{tenant.bot.username}"))["text"]
        assert tenant.tenant_id in by_bot
        listing = (await admin.say("/tenants"))["text"]
        assert tenant.tenant_id in listing
    finally:
        await tenants.release(tenant)
    assert (await admin.say("/tenant t_nosuchtenant1"))["text"] == "Клиента «t_nosuchtenant1» нет."
    assert (await admin.say("/tenant '; DROP TABLE x"))["text"] == "Укажите клиента: /tenant t_… или /tenant @имя_бота."


async def test_orders_answers_with_todays_revenue(admin: Chat) -> None:
    text = (await admin.say("/orders"))["text"]
    assert "Заказы за" in text and "Выручка:" in text and "₽" in text
