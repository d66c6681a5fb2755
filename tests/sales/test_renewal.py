"""Renewal as an owner lives it: reminded 3 days and 1 day before the end (each once), renews from the
reminder's button, pays, hears "renewed", and their bot, bookings and slot stay as they were; the bot
answers clients throughout.

The reminder passes run here with moments the test chooses (the same ``OwnerReminders`` the sales bot
process runs with the real time, against the same outbox), so days pass without waiting for them.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from botpool.commerce.orders import OrderStore
from botpool.commerce.subscriptions import Subscriptions
from devstack.buyer import RENEWED_MARK, Buyer
from devstack.standins.telegram.client import BotInfo, TelegramControl, TgUser
from sales_bot.reminders import OwnerReminders
from tests.fixtures.telegram import TelegramStandin
from tests.sales.conftest import SalesBot
from tests.sales.support import buy_with_pasted_token, wait_for

THREE_DAYS = "через 3 дня"
ONE_DAY = "Завтра"


async def _texts(buyer: Buyer, mark: str) -> list[dict[str, Any]]:
    return [m for m in await buyer.tg.messages(buyer.sales, buyer.user.id) if mark in str(m.get("text") or "")]


async def _answering(control: TelegramControl, bot: BotInfo, clients: list[TgUser], stop: asyncio.Event,
                     unanswered: list[str], answered: list[int]) -> None:
    """Clients greet the bot in turn, one a second, until ``stop``; any greeting left unanswered is recorded."""
    turn = 0
    while not stop.is_set():
        client = clients[turn % len(clients)]
        turn += 1
        sent = await control.send_message(bot, client, "/start")
        try:
            await control.wait_for_message(bot, client.id, after_message_id=int(sent["message_id"]), timeout=10)
            answered.append(client.id)
        except TimeoutError as exc:
            unanswered.append(str(exc))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def test_owner_is_reminded_renews_from_the_reminder_and_the_bot_never_stops(  # type: ignore[no-untyped-def]
    new_buyer, sales_bot: SalesBot, telegram_standin: TelegramStandin, db: asyncpg.Pool, unique: str
) -> None:
    buyer: Buyer = new_buyer()
    own = await buy_with_pasted_token(buyer, f"renew_{unique}_bot", "Салон Веры")
    before = await db.fetchrow(
        "SELECT tenant_id, paid_until, slot_index FROM control.tenants WHERE bot_id = $1 AND status = 'active'", own.id
    )
    assert before is not None
    tenant_id, end = before["tenant_id"], before["paid_until"]
    session = AiohttpSession(api=TelegramAPIServer.from_base(telegram_standin.base_url))
    reminders = OwnerReminders(Subscriptions(db), Bot(sales_bot.info.token, session=session))
    try:
        # Three days before the end: one reminder, however many passes run.
        at_3d = end - timedelta(days=3) + timedelta(minutes=1)
        await reminders.run_once(at_3d)
        await reminders.run_once(at_3d + timedelta(minutes=1))
        assert len(await _texts(buyer, THREE_DAYS)) == 1
        # One day before: the second reminder, once, with the "renew" button.
        at_1d = end - timedelta(days=1) + timedelta(minutes=1)
        await reminders.run_once(at_1d)
        await reminders.run_once(at_1d + timedelta(hours=2))
        one_day = await _texts(buyer, ONE_DAY)
        assert len(one_day) == 1 and len(await _texts(buyer, THREE_DAYS)) == 1
    finally:
        await session.close()
    assert own.username in str(one_day[0]["text"])

    # Clients keep greeting the bot while its owner renews.
    stop = asyncio.Event()
    unanswered: list[str] = []
    answered: list[int] = []
    clients = [TgUser(id=8_100_000 + n, first_name=f"Client{n}") for n in range(3)]
    probe = asyncio.create_task(_answering(buyer.tg, own, clients, stop, unanswered, answered))
    try:
        buyer.last = int(one_day[0]["message_id"])
        payment_id = await buyer.renew(one_day[0], "basic")
        await buyer.pay()
        renewed = await buyer.expect(RENEWED_MARK)
        # The same payment notified again extends nothing more.
        await buyer.yk.renotify(payment_id)
        await wait_for(lambda: _notified_twice(buyer, payment_id), what="the repeated notification")
    finally:
        stop.set()
        await probe
    assert unanswered == [], f"the bot stopped answering during the renewal: {unanswered}"
    assert answered, "the probe greeted the bot at least once"

    after = await db.fetchrow(
        "SELECT paid_until, slot_index, status FROM control.tenants WHERE tenant_id = $1", tenant_id
    )
    assert after is not None
    assert after["status"] == "active" and after["slot_index"] == before["slot_index"], "same bot, same slot"
    assert after["paid_until"] == end + timedelta(days=30), "extended from the end of the paid period"
    assert await db.fetchval("SELECT count(*) FROM control.tenants WHERE bot_id = $1", own.id) == 1
    orders = await db.fetch(
        "SELECT kind, status, extended_to FROM control.orders WHERE tenant_id = $1 ORDER BY created_at", tenant_id
    )
    assert [(o["kind"], o["status"]) for o in orders] == [("new", "active"), ("renewal", "active")]
    assert orders[1]["extended_to"] == after["paid_until"]
    assert len(await _texts(buyer, RENEWED_MARK)) == 1, "told once"
    # The new end as the salon sees it: in its time zone (Moscow, the first zone button).
    assert after["paid_until"].astimezone(ZoneInfo("Europe/Moscow")).strftime("%d.%m.%Y") in str(renewed["text"])


async def _notified_twice(buyer: Buyer, payment_id: str) -> bool:
    succeeded = await buyer.yk.notifications(payment_id=payment_id, event="payment.succeeded")
    return len(succeeded) >= 2


async def test_renewal_of_a_bot_that_is_not_yours_is_refused_in_one_sentence(  # type: ignore[no-untyped-def]
    new_buyer, db: asyncpg.Pool
) -> None:
    stranger: Buyer = new_buyer()
    victim = await db.fetchval("SELECT tenant_id FROM control.tenants ORDER BY created_at LIMIT 1")
    await stranger.say("/renew")
    await stranger.expect("нет ботов")
    for forged in ([victim] if victim else []) + ["t_nosuchtenant1", "junk"]:
        await stranger.tg.press_button(stranger.sales, stranger.user, stranger.last, f"s:w:{forged}", force=True)
        await stranger.expect("нельзя продлить")
    assert await db.fetchval(
        "SELECT count(*) FROM control.orders WHERE buyer_telegram_id = $1", stranger.user.id
    ) == 0, "nothing was stored for a refused renewal"


async def test_a_reminder_to_an_owner_telegram_cannot_reach_is_given_up_not_retried(
    sales_bot: SalesBot, telegram_standin: TelegramStandin, db: asyncpg.Pool, pg_schema: str
) -> None:
    """An owner who never wrote to the sales bot (a tenant an operator added by hand) cannot be written to:
    Telegram answers "chat not found" every time, so the reminder is recorded as undeliverable, once."""
    await OrderStore(db, pg_schema).migrate()  # a control schema of this test's own
    end = datetime.now(UTC) + timedelta(days=2)
    await db.execute(
        f'INSERT INTO "{pg_schema}".tenants (tenant_id, company_name, admin_telegram_id, bot_id, paid_until, status) '
        "VALUES ('t_unreach01', 'Салон', 9999999001, 4242, $1, 'active')", end,
    )
    session = AiohttpSession(api=TelegramAPIServer.from_base(telegram_standin.base_url))
    reminders = OwnerReminders(Subscriptions(db, pg_schema), Bot(sales_bot.info.token, session=session))
    try:
        assert await reminders.run_once(datetime.now(UTC)) == 0
        assert await reminders.run_once(datetime.now(UTC) + timedelta(minutes=5)) == 0
    finally:
        await session.close()
    rows = await db.fetch(f'SELECT kind, outcome FROM "{pg_schema}".subscription_reminders')
    assert [(r["kind"], r["outcome"]) for r in rows] == [("3d", "undeliverable")]
