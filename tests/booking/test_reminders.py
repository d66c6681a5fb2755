"""Reminders come from the database: they survive restarts and moves, and each is sent exactly once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from bot_runtime.booking.clock import ManualClock
from tests.booking.harness import Person, TenantBot
from tests.booking.support import seed_salon
from tests.booking.test_client_flow import book


async def count_containing(person: Person, text: str) -> int:
    """How many bot messages in the chat contain ``text`` (a duplicate reminder would count twice)."""
    return sum(text in m["text"] for m in await person.messages())


async def test_reminder_due_during_a_move_is_sent_once(tenant: TenantBot, db: asyncpg.Pool, clock: ManualClock) -> None:
    await seed_salon(db)
    client = tenant.person(601, "Анна")
    await client.say("/start", expect="Здравствуйте")
    await book(client)  # Tuesday 15:00 Moscow; it is Monday 12:00 there now

    # Mid-way through another booking, the bot's process goes away.
    screen = await client.say("/book", expect="Шаг 1 из 4")
    screen = await client.step(screen, "Beard")
    await tenant.stop()

    # The 24-hour reminder falls due (Monday 15:00 Moscow) while no process runs the bot.
    clock.advance(timedelta(hours=4))
    # The bot comes up in a new slot while the old slot's worker is still finishing: both run.
    old_slot, new_slot = tenant.worker(), tenant.worker()
    sent = await asyncio.gather(old_slot.run_once(), new_slot.run_once())
    assert sorted(sent) == [0, 1]
    await client.wait("Напоминание")
    assert await count_containing(client, "Напоминание") == 1
    assert await new_slot.run_once() == 0

    # The half-finished booking continues in the new process: its state was in Redis, not in memory.
    await tenant.start()
    screen = await client.step(screen, "Далее")
    assert "Выберите мастера" in screen["text"]

    clock.advance(timedelta(hours=22, minutes=5))  # Tuesday 13:05 Moscow: the 2-hour reminder
    assert await new_slot.run_once() == 1
    await client.wait("Напоминание", after=await client.last_id() - 1)
    assert await count_containing(client, "Напоминание") == 2

    clock.advance(timedelta(hours=4))  # two hours after the visit: the rating request
    assert await old_slot.run_once() == 1
    ask = await client.wait("Оцените")
    _, thanked = await client.tap(ask, "⭐⭐⭐⭐⭐", exact=True)
    assert "Спасибо за оценку" in thanked["text"]
    assert await db.fetchval("SELECT rating FROM bookings WHERE status = 'confirmed'") == 5
    assert await new_slot.run_once() == 0


async def test_cancelled_and_moved_bookings_get_reminders_for_their_new_fate(
    tenant: TenantBot, db: asyncpg.Pool, clock: ManualClock
) -> None:
    await seed_salon(db)
    client = tenant.person(602, "Борис")
    await client.say("/start", expect="Здравствуйте")
    await book(client, day="12", time="11:00")  # Wednesday 11:00
    await book(client, day="13", time="11:00")  # Thursday 11:00

    mine = await client.say("/my", expect="Ваши записи")
    card = await client.step(mine, "12.03 11:00")
    ask = await client.step(card, "Отменить запись")
    await client.step(ask, "Да, отменить")

    mine = await client.say("/my", expect="Ваши записи")
    card = await client.step(mine, "13.03 11:00")
    calendar = await client.step(card, "Перенести")
    times = await client.step(calendar, "14", exact=True)
    confirm = await client.step(times, "17:00", exact=True)
    await client.step(confirm, "Перенести")

    worker = tenant.worker()
    clock.set(clock() + timedelta(days=2, hours=-1))  # Wednesday 11:00: a day before the old Thursday time
    assert await worker.run_once() == 0  # the cancelled one is silent; the moved one is not due yet
    clock.advance(timedelta(hours=30, minutes=1))  # Thursday 17:01 Moscow: 24 h before Friday 17:00
    assert await worker.run_once() == 1
    reminder = await client.wait("Напоминание")
    assert "Пт, 14 марта, 17:00" in reminder["text"]
