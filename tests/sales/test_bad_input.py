"""Bad input: each gets a clear answer in the chat, nothing wrong is stored, and the conversation goes on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from botpool.tenancy import store as tenancy_store
from devstack.buyer import Buyer, button_data, buttons
from tests.pool.conftest import Pool
from tests.sales.conftest import SalesBot
from tests.sales.support import order_row


async def test_bad_tokens(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str
) -> None:
    buyer: Buyer = new_buyer()
    await buyer.start()
    sent = await buyer.paste_token("hello: this is not a token")
    await buyer.expect("не похоже на токен")
    await buyer.tg.wait_for_deletion(sales_bot.info, buyer.user.id, int(sent["message_id"]))

    sent = await buyer.say("1234567890:" + "A" * 35)  # the right shape, but Telegram knows no such bot
    await buyer.expect("Telegram не принял")
    await buyer.tg.wait_for_deletion(sales_bot.info, buyer.user.id, int(sent["message_id"]))

    taken = await buyer.tg.create_bot(f"taken_{unique}_bot")
    await tenancy_store.upsert(  # another salon's live tenant already runs this bot
        db, tenant_id=f"t_other{unique}", company_name="Другой салон", admin_telegram_id=1,
        bot_id=taken.id, paid_until=datetime.now(UTC) + timedelta(days=30), timezone="Europe/Moscow", language="ru",
    )
    await buyer.say(taken.token)
    await buyer.expect("уже обслуживает другой салон")

    mine = await buyer.tg.create_bot(f"mine_{unique}_bot")
    await buyer.say(mine.token)  # the conversation goes on
    await buyer.expect(f"@{mine.username}")
    order = await db.fetchrow("SELECT * FROM control.orders WHERE buyer_telegram_id = $1", buyer.user.id)
    assert order is not None and order["bot_id"] == mine.id and order["company_name"] is None


async def test_bad_company_names_and_zones(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str
) -> None:
    buyer: Buyer = new_buyer()
    await buyer.start()
    await buyer.one_tap_bot(f"names_{unique}_bot", "Names")
    await buyer.tg.send_photo(sales_bot.info, buyer.user)  # a picture where the salon's name is asked
    await buyer.expect("Здесь нужен текст")
    await buyer.say("Я" * 10_000)
    await buyer.expect("Слишком длинное название")
    await buyer.say("💅💅💅")
    await buyer.expect("хотя бы одна буква")
    evil = "<b>Salon</b>'; DROP TABLE control.orders; --"
    await buyer.say(evil)
    zones = await buyer.expect_button("s:z:")
    await buyer.say("Mars/Olympus")
    await buyer.expect("Не знаю такого часового пояса")
    await buyer.say("asia/tomsk")
    summary = await buyer.expect_button("s:p:")
    assert evil in summary["text"] and "Asia/Tomsk" in summary["text"]  # shown as text, not markup
    order_id = button_data(summary, "s:p:").removeprefix("s:p:")
    row = await order_row(db, order_id)
    assert row["company_name"] == evil and row["timezone"] == "Asia/Tomsk"
    assert await db.fetchval("SELECT to_regclass('control.orders') IS NOT NULL")
    del zones


async def test_stale_and_forged_buttons_double_pay_and_second_purchase(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str
) -> None:
    buyer: Buyer = new_buyer()
    await buyer.start()
    await buyer.one_tap_bot(f"taps_{unique}_bot", "Taps")
    summary = await buyer.details("Двойной тап")
    assert buyer.order_id is not None

    # Double tap on "pay": one payment.
    for _ in range(2):
        await buyer.tg.press_button(sales_bot.info, buyer.user, int(summary["message_id"]),
                                    button_data(summary, "s:p:"))
    first = await buyer.expect_button("s:c:")
    second = await buyer.expect_button("s:c:")
    urls = {b["url"] for m in (first, second) for b in buttons(m) if b.get("url")}
    assert len(urls) == 1
    assert len(await buyer.yk.payments(order_id=buyer.order_id)) == 1

    # A forged button naming someone else's order, and garbage data: "out of date", nothing happens.
    forged = await buyer.tg.press_button(sales_bot.info, buyer.user, int(summary["message_id"]),
                                         "s:c:o_000000000000000000000000", force=True)
    answer = await buyer.tg.wait_for_callback_answer(sales_bot.info, forged)
    assert "устарела" in str(answer)
    junk = await buyer.tg.press_button(sales_bot.info, buyer.user, int(summary["message_id"]), "zz:1", force=True)
    assert "устарела" in str(await buyer.tg.wait_for_callback_answer(sales_bot.info, junk))
    assert (await order_row(db, buyer.order_id))["status"] == "awaiting_payment"

    # A second purchase while the first is pending: the pending order is offered, no second order.
    await buyer.say("/start")
    pending = await buyer.expect_button("s:n:")
    assert "неоплаченный заказ" in pending["text"]
    count = await db.fetchval("SELECT count(*) FROM control.orders WHERE buyer_telegram_id = $1", buyer.user.id)
    assert count == 1
    # Continue shows the same payment again.
    await buyer.tap(pending, "s:n:")
    again = await buyer.expect_button("s:c:")
    assert {b["url"] for b in buttons(again) if b.get("url")} == urls
