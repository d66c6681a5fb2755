"""Helpers of the purchase tests: what the database says about an order, and waiting for a state."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from devstack.buyer import READY_MARK, Buyer
from devstack.standins.telegram.client import BotInfo


async def order_row(db: asyncpg.Pool, order_id: str) -> dict[str, Any]:
    """The order as stored (with its tenant's status, if any)."""
    row = await db.fetchrow(
        "SELECT o.*, t.status AS tenant_status, t.admin_telegram_id, t.bot_username AS tenant_bot "
        "FROM control.orders o LEFT JOIN control.tenants t USING (tenant_id) WHERE o.order_id = $1",
        order_id,
    )
    assert row is not None, f"no order {order_id}"
    return dict(row)


async def wait_for(check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0, what: str = "state") -> None:
    """Poll a state a user would see (a row, a message) until it holds; fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not await check():  # noqa: ASYNC110 - the state lives in another process
            await asyncio.sleep(0.1)


async def ready_messages(buyer: Buyer) -> list[dict[str, Any]]:
    """Every "ready" message the buyer got."""
    return [m for m in await buyer.tg.messages(buyer.sales, buyer.user.id) if READY_MARK in (m.get("text") or "")]


async def tenants_for_bot(db: asyncpg.Pool, bot_id: int) -> int:
    """How many tenants were created for a bot (exactly one activation means exactly one)."""
    return int(await db.fetchval("SELECT count(*) FROM control.tenants WHERE bot_id = $1", bot_id))


async def buy_with_pasted_token(buyer: Buyer, username: str, company: str) -> BotInfo:
    """The buyer makes a bot in BotFather, pastes its token, names the salon, pays and hears "ready"."""
    own = await buyer.tg.create_bot(username)
    await buyer.start("basic")
    await buyer.paste_token(own.token)
    await buyer.expect(f"@{own.username}")
    await buyer.checkout(await buyer.details(company))
    await buyer.pay()
    await buyer.ready()
    return own
