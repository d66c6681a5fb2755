"""A buyer goes from /start to "ready" both ways, and the new bot answers /start."""

from __future__ import annotations

import asyncpg

from devstack.buyer import Buyer
from tests.pool.conftest import Pool
from tests.sales.conftest import SalesBot
from tests.sales.support import order_row, ready_messages, tenants_for_bot, wait_for


async def test_one_tap_purchase(pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str) -> None:  # type: ignore[no-untyped-def]
    buyer: Buyer = new_buyer()
    await buyer.start("pro")
    created = await buyer.one_tap_bot(f"salon_{unique}_bot", "Салон Анны")
    summary = await buyer.details("Салон «Анна» 💅")
    assert "Салон «Анна» 💅" in summary["text"] and "Europe/Moscow" in summary["text"]
    await buyer.checkout(summary)
    await buyer.pay()
    ready = await buyer.ready()
    assert f"@{created.username}" in ready["text"] and "90 дней" in ready["text"]
    await buyer.talk_to(created)

    assert buyer.order_id is not None
    row = await order_row(db, buyer.order_id)
    assert row["status"] == "active" and row["tenant_status"] == "active"
    assert row["admin_telegram_id"] == buyer.user.id  # the buyer, from the update: never typed
    assert row["bot_source"] == "managed"
    assert await tenants_for_bot(db, created.id) == 1
    assert len(await ready_messages(buyer)) == 1


async def test_pasted_token_purchase(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str
) -> None:
    buyer: Buyer = new_buyer()
    own = await buyer.tg.create_bot(f"own_{unique}_bot")
    await buyer.start("basic")
    sent = await buyer.paste_token(own.token)
    deleted = await buyer.tg.wait_for_deletion(sales_bot.info, buyer.user.id, int(sent["message_id"]))
    assert deleted["deleted"] is True
    await buyer.expect(f"@{own.username}")
    summary = await buyer.details("Nails & Co")
    await buyer.checkout(summary)
    await buyer.pay()
    ready = await buyer.ready()
    assert f"@{own.username}" in ready["text"]
    await buyer.talk_to(own.username)
    assert buyer.order_id is not None
    row = await order_row(db, buyer.order_id)
    assert (row["status"], row["bot_source"], row["admin_telegram_id"]) == ("active", "pasted", buyer.user.id)
    assert len(await ready_messages(buyer)) == 1


async def test_english_buyer(pool: Pool, sales_bot: SalesBot, new_buyer, unique: str) -> None:  # type: ignore[no-untyped-def]
    buyer: Buyer = new_buyer("en")
    await buyer.say("/start")
    tariffs = await buyer.expect_button("s:t:")
    assert "Pick a plan" in tariffs["text"] and "990" in str(tariffs["reply_markup"])


async def test_ready_waits_for_the_order_to_be_active(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str
) -> None:
    """Nothing says "ready" for an unpaid order, however long it waits (checked as soon as the payment exists)."""
    buyer: Buyer = new_buyer()
    await buyer.start()
    await buyer.one_tap_bot(f"wait_{unique}_bot", "Wait")
    summary = await buyer.details("Ожидание")
    await buyer.checkout(summary)
    assert buyer.order_id is not None

    async def awaiting() -> bool:
        return bool((await order_row(db, buyer.order_id or ""))["status"] == "awaiting_payment")

    await wait_for(awaiting)
    assert await ready_messages(buyer) == []
    await buyer.pay()
    await buyer.ready()
