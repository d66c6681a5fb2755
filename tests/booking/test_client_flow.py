"""A client books, sees, moves and cancels a booking; the owner is alerted and sees each change."""

from __future__ import annotations

import asyncio
from datetime import date

import asyncpg

from tests.booking.harness import JsonDict, Person, TenantBot, labels
from tests.booking.support import seed_salon

TUESDAY = date(2025, 3, 11)  # the clock stands on Monday 2025-03-10, 12:00 in Moscow


async def book(
    client: Person, *, service: str = "Haircut", master: str = "Anna", day: str = "11", time: str = "15:00"
) -> JsonDict:
    """Walk the whole booking flow by pressing what a client sees; return the final message."""
    screen = await client.say("📅 Записаться", expect="Шаг 1 из 4")
    screen = await client.step(screen, service)
    assert "Выбрано: " + service in screen["text"]
    screen = await client.step(screen, "Далее")
    assert "Выберите мастера" in screen["text"]
    screen = await client.step(screen, master, exact=True)
    assert "Выберите день" in screen["text"]
    screen = await client.step(screen, day, exact=True)
    assert "выберите время" in screen["text"]
    screen = await client.step(screen, time, exact=True)
    assert "Время удерживается за вами 10 мин" in screen["text"]
    return await client.step(screen, "Подтвердить")


async def test_client_books_moves_and_cancels_with_owner_alerts(tenant: TenantBot, db: asyncpg.Pool) -> None:
    await seed_salon(db)
    owner = tenant.person(tenant.config.admin_telegram_id, "Ольга")
    client = tenant.person(501, "Мария", username="maria")
    await owner.say("/start", expect="Вы администратор")
    welcome = await client.say("/start", expect="Здравствуйте, Мария")
    assert "Студия «Лотос»" in welcome["text"]
    assert welcome["reply_markup"]["keyboard"][0][0]["text"] == "📅 Записаться"

    alerts_before = await owner.last_id()
    done = await book(client)
    assert "Вы записаны" in done["text"]
    assert "Вт, 11 марта, 15:00" in done["text"]
    alert = await owner.wait("Новая запись", after=alerts_before)
    assert "Мария @maria" in alert["text"] and "Вт, 11 марта, 15:00" in alert["text"]
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE status = 'confirmed'") == 1

    panel = await owner.say("/admin", expect="Записей сегодня")
    day = await owner.step(panel, "Неделя")
    assert "15:00 Мария @maria — Haircut (Anna)" in day["text"]

    mine = await client.say("🗂 Мои записи", expect="Ваши записи")
    assert "Вт, 11 марта, 15:00 — Haircut (Anna)" in mine["text"]
    card = await client.step(mine, "11.03 15:00")
    calendar = await client.step(card, "Перенести")
    assert "Перенос записи" in calendar["text"]
    times = await client.step(calendar, "12", exact=True)
    confirm = await client.step(times, "16:00", exact=True)
    assert "Станет: Ср, 12 марта, 16:00" in confirm["text"]
    alerts_before = await owner.last_id()
    moved = await client.step(confirm, "Перенести")
    assert "перенесена на Ср, 12 марта, 16:00" in moved["text"]
    alert = await owner.wait("перенёс", after=alerts_before)
    assert "Было: Вт, 11 марта, 15:00" in alert["text"] and "Стало: Ср, 12 марта, 16:00" in alert["text"]

    mine = await client.say("🗂 Мои записи", expect="Ваши записи")
    card = await client.step(mine, "12.03 16:00")
    ask = await client.step(card, "Отменить запись")
    alerts_before = await owner.last_id()
    cancelled = await client.step(ask, "Да, отменить")
    assert "Запись отменена" in cancelled["text"]
    await owner.wait("Клиент отменил запись", after=alerts_before)
    assert "нет предстоящих" in (await client.say("/my"))["text"]
    panel = await owner.say("/admin", expect="Записей сегодня")
    week = await owner.step(panel, "Неделя")
    assert "Мария" not in week["text"]


async def test_twenty_clients_race_for_one_slot(tenant: TenantBot, db: asyncpg.Pool) -> None:
    await seed_salon(db)
    clients = [tenant.person(1000 + i, f"Client{i}") for i in range(20)]

    async def to_times(client: Person) -> JsonDict:
        screen = await client.say("/book", expect="Шаг 1 из 4")
        screen = await client.step(screen, "Haircut")
        screen = await client.step(screen, "Далее")
        screen = await client.step(screen, "Anna", exact=True)
        return await client.step(screen, "11", exact=True)

    screens = await asyncio.gather(*(to_times(c) for c in clients))
    slot = next(b for b in screens[0]["reply_markup"]["inline_keyboard"][0] if b["text"] == "10:00")
    presses = await asyncio.gather(
        *(c.press_data(s, slot["callback_data"]) for c, s in zip(clients, screens, strict=True))
    )
    winners = [(c, m) for c, (_, m) in zip(clients, presses, strict=True) if "удерживается" in m["text"]]
    losers = [a for a, m in presses if "удерживается" not in m["text"]]
    assert len(winners) == 1
    assert len(losers) == 19 and all("только что заняли" in a["text"] for a in losers)
    client, screen = winners[0]
    done = await client.step(screen, "Подтвердить")
    assert "Вы записаны" in done["text"]
    assert await db.fetchval("SELECT count(*) FROM bookings WHERE status IN ('held', 'confirmed')") == 1
    # Every loser's time list was redrawn without the taken slot.
    for _, screen in presses:
        if "удерживается" not in screen["text"]:
            assert "10:00" not in labels(screen)
            assert "11:00" in labels(screen)


async def test_language_switch_is_remembered(tenant: TenantBot, db: asyncpg.Pool) -> None:
    await seed_salon(db)
    client = tenant.person(502, "John", lang="en")
    welcome = await client.say("/start", expect="Здравствуйте")  # the salon's default language first
    assert welcome["reply_markup"]["keyboard"][1][0]["text"] == "🌐 English"
    switched = await client.say("🌐 English", expect="Language: English")
    assert switched["reply_markup"]["keyboard"][0][0]["text"] == "📅 Book"
    screen = await client.say("📅 Book", expect="Step 1 of 4")
    assert "Haircut · 1 h · 1 500 ₽" in labels(screen)
    await tenant.stop()
    await tenant.start()  # the language is in the database and the open flow in Redis, not in the process
    assert "I am waiting for a button" in (await client.say("hello?"))["text"]
    assert "Язык: русский" in (await client.say("/lang"))["text"]
