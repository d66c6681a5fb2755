"""The sales bot is SIGKILLed between payment and activation, and between activation and "ready":
the buyer still gets the bot and exactly one "ready". Two buyers pay with no free slot: both are served
when slots are added, and both are told."""

from __future__ import annotations

import asyncio

import asyncpg

from botpool import jobspec
from botpool.pool import protocol
from devstack.buyer import Buyer
from tests.pool.conftest import Pool
from tests.sales.conftest import SalesBot
from tests.sales.support import order_row, ready_messages, tenants_for_bot, wait_for


async def test_killed_between_payment_and_activation(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str
) -> None:
    buyer: Buyer = new_buyer()
    await buyer.start()
    created = await buyer.one_tap_bot(f"kill1_{unique}_bot", "Kill one")
    summary = await buyer.details("Салон после сбоя")
    await buyer.checkout(summary)
    sales_bot.kill()
    await buyer.pay()  # YooKassa's notification finds nobody; it is redelivered, and the checker looks too
    await sales_bot.start()
    await buyer.ready()
    await buyer.talk_to(created)
    assert await tenants_for_bot(db, created.id) == 1
    assert len(await ready_messages(buyer)) == 1


async def test_killed_between_activation_and_ready(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str
) -> None:
    buyer: Buyer = new_buyer()
    await buyer.start()
    created = await buyer.one_tap_bot(f"kill2_{unique}_bot", "Kill two")
    summary = await buyer.details("Салон без ответа")
    await buyer.checkout(summary)
    assert buyer.order_id is not None
    # Telegram refuses the sales bot's messages in this chat for a while (429), so "ready" cannot go out.
    await buyer.tg.set_rate_limit(1, window=3600, bot=sales_bot.info)
    try:
        await buyer.say("?")  # the answer uses the chat's one allowed message
        await buyer.expect_button("s:c:")
        await buyer.pay()

        async def active_not_told() -> bool:
            row = await order_row(db, buyer.order_id or "")
            return row["status"] == "active" and row["ready_notified_at"] is None

        await wait_for(active_not_told, timeout=60)
        sales_bot.kill()
    finally:
        await buyer.tg.set_rate_limit(None, bot=sales_bot.info)
    assert await ready_messages(buyer) == []
    await sales_bot.start()
    await buyer.ready()
    await buyer.talk_to(created)
    assert await tenants_for_bot(db, created.id) == 1

    async def claimed() -> bool:
        return (await order_row(db, buyer.order_id or ""))["ready_notified_at"] is not None

    await wait_for(claimed)
    assert len(await ready_messages(buyer)) == 1


async def test_two_buyers_pay_with_no_free_slot(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str
) -> None:
    buyers: list[Buyer] = [new_buyer(), new_buyer()]
    bots = []
    for i, buyer in enumerate(buyers):
        await buyer.start()
        bots.append(await buyer.one_tap_bot(f"busy{i}_{unique}_bot", f"Busy {i}"))
        await buyer.checkout(await buyer.details(f"Салон {i}"))
    # No free slot: the pool shrinks to the slots already serving tenants (claims take the lowest free
    # index and Nomad removes the highest indexes, so only free slots go). The job keeps at least one
    # slot, so when this test runs alone a first buyer takes slot 0.
    snap = await protocol.snapshot(pool.consul)
    if len(snap.free()) == len(snap.slots):
        anchor: Buyer = new_buyer()
        await anchor.start()
        await anchor.one_tap_bot(f"anchor_{unique}_bot", "Anchor")
        await anchor.checkout(await anchor.details("Первый салон"))
        await anchor.pay()
        await anchor.ready()
        snap = await protocol.snapshot(pool.consul)
    free = {s.index for s in snap.free()}
    top = max((i for i in snap.slots if i not in free), default=-1) + 1
    await pool.nomad.scale(jobspec.POOL.id, jobspec.POOL.group, top, message="test: no free slot")
    await protocol.wait_until(pool.consul, lambda s: not s.free() and len(s.slots) == top, timeout_s=120)
    await asyncio.gather(*(b.pay() for b in buyers))
    for buyer in buyers:
        await buyer.expect("Готовим вашего бота")
    for buyer in buyers:
        assert buyer.order_id is not None
        assert (await order_row(db, buyer.order_id))["status"] == "activating"
    # What the scaler does on a shortage: more slots (the waiting buyers take them as they come up).
    await pool.nomad.scale(jobspec.POOL.id, jobspec.POOL.group, top + 3, message="test: the scaler adds slots")
    for buyer, bot in zip(buyers, bots, strict=True):
        await buyer.ready(timeout=120)
        await buyer.talk_to(bot)
        assert await tenants_for_bot(db, bot.id) == 1
        assert len(await ready_messages(buyer)) == 1
