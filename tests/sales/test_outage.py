"""The sales bot rides out a Redis and a PostgreSQL restart: the buyer is told to try again in a minute,
never met with silence, and the purchase continues where it was once the server is back."""

from __future__ import annotations

import asyncpg

from devstack.buyer import Buyer, button_data
from devstack.stack import Stack
from tests.fixtures.outage import outage
from tests.pool.conftest import Pool
from tests.sales.conftest import SalesBot
from tests.sales.support import order_row

PAUSE = "технический перерыв"


async def test_redis_and_postgres_restarts_mid_purchase(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str, stack: Stack
) -> None:
    buyer: Buyer = new_buyer()
    await buyer.start()
    created = await buyer.one_tap_bot(f"outage_{unique}_bot", "Outage")
    async with outage(stack, "redis"):
        await buyer.say("Салон в перерыв")  # the conversation state lives in Redis, which is down
        await buyer.expect(PAUSE)
    # Back: the same step still waits for the company name; nothing the buyer did was lost.
    summary = await buyer.details("Салон после перерыва")
    assert buyer.order_id is not None
    row = await order_row(db, buyer.order_id)
    assert (row["company_name"], row["bot_id"]) == ("Салон после перерыва", created.id)
    async with outage(stack, "postgres"):
        # "pay" needs the order from PostgreSQL, which is down: the tap is answered with an alert.
        query = await buyer.tg.press_button(buyer.sales, buyer.user, int(summary["message_id"]), button_data(
            summary, "s:p:"))
        answered = await buyer.tg.wait_for_callback_answer(buyer.sales, query, timeout=60)
        assert PAUSE in answered["answer"]["text"] and answered["answer"].get("show_alert")
    await db.expire_connections()
    await buyer.checkout(summary)
    await buyer.pay()
    await buyer.ready()
    await buyer.talk_to(created)
