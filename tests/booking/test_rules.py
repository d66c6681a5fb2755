"""Days off, breaks, buffers, horizon, minimum notice, cut-off and time zones hold in the running bot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg

from bot_runtime.booking.callbacks import MyCb
from bot_runtime.booking.clock import ManualClock
from tests.booking.harness import JsonDict, Person, TenantBot, labels
from tests.booking.support import seed_salon
from tests.booking.test_client_flow import book


async def times_for(client: Person, master: str, day: str, service: str = "Haircut") -> JsonDict:
    """Walk to the time list of ``day`` (a calendar label) for ``master``."""
    screen = await client.say("/book", expect="Шаг 1 из 4")
    screen = await client.step(screen, service)
    screen = await client.step(screen, "Далее")
    calendar = await client.step(screen, master, exact=True)
    return await client.step(calendar, day, exact=True)


async def calendar_for(client: Person, master: str) -> JsonDict:
    """Walk to the month calendar of a haircut with ``master``."""
    screen = await client.say("/book", expect="Шаг 1 из 4")
    screen = await client.step(screen, "Haircut")
    screen = await client.step(screen, "Далее")
    return await client.step(screen, master, exact=True)


async def owner_types(owner: Person, path: list[str], text: str, expect: str) -> JsonDict:
    """Open the panel, press ``path`` and type ``text``; return the reply containing ``expect``."""
    screen = await owner.say("/admin", expect="Управление")
    for label in path:
        screen = await owner.step(screen, label)
    return await owner.say(text, expect=expect)


async def test_day_off_breaks_and_notice(tenant: TenantBot, db: asyncpg.Pool) -> None:
    await seed_salon(db)
    owner = tenant.person(tenant.config.admin_telegram_id, "Ольга")
    client = tenant.person(701, "Вера")
    await owner.say("/start", expect="Здравствуйте")
    await client.say("/start", expect="Здравствуйте")
    await book(client, day="13", time="11:00")

    # A day off for Anna on the 13th cancels the booking there and tells the client.
    before = await client.last_id()
    reply = await owner_types(owner, ["Мастера", "Anna", "Выходные дни"], "13.03", "Заблокировано")
    assert "Отменено записей: 1" in reply["text"]
    notice = await client.wait("Салон отменил вашу запись", after=before)
    assert "Чт, 13 марта, 11:00" in notice["text"]
    calendar = await calendar_for(client, "Anna")
    assert "13" not in labels(calendar) and "12" in labels(calendar)
    assert "13" in labels(await calendar_for(client, "Boris"))  # Boris still works that day

    # Anna's lunch break 13:00-14:00: an hour's visit cannot start at 12:30, 13:00 or 13:30.
    shown = labels(await times_for(client, "Anna", "11"))
    assert "12:00" in shown and "14:00" in shown
    assert not {"12:30", "13:00", "13:30"} & set(shown)

    # Today (Monday 12:00 in Moscow) with an hour's minimum notice: Boris from 13:00.
    today = labels(await times_for(client, "Boris", "10"))
    assert today[0] == "13:00"


async def test_buffers_and_horizon_set_by_the_owner(tenant: TenantBot, db: asyncpg.Pool) -> None:
    await seed_salon(db)
    owner = tenant.person(tenant.config.admin_telegram_id, "Ольга")
    client = tenant.person(702, "Глеб")
    await owner.say("/start", expect="Здравствуйте")
    await client.say("/start", expect="Здравствуйте")

    reply = await owner_types(owner, ["Настройки", "Буферы"], "0 30", "Настройки записи")
    assert "Буфер до / после: 0 / 30 мин" in reply["text"]
    await book(client, master="Boris", day="11", time="15:00")
    shown = labels(await times_for(client, "Boris", "11"))
    # 15:00-16:00 is booked and followed by 30 minutes of buffer; a 14:00 visit's own buffer would overlap it.
    assert "13:30" in shown and "16:30" in shown
    assert not {"14:00", "14:30", "15:00", "15:30", "16:00"} & set(shown)

    reply = await owner_types(owner, ["Настройки", "Горизонт"], "7", "Настройки записи")
    assert "Горизонт записи: 7 дн." in reply["text"]
    calendar = await calendar_for(client, "Boris")
    assert "17" in labels(calendar)  # Monday, today + 7
    assert "18" not in labels(calendar)
    assert "▶️" not in labels(calendar)  # nothing to page to


async def test_cut_off_stops_client_changes(tenant: TenantBot, db: asyncpg.Pool, clock: ManualClock) -> None:
    await seed_salon(db)
    client = tenant.person(703, "Дина")
    await client.say("/start", expect="Здравствуйте")
    await book(client, day="11", time="10:00")  # 22 hours ahead: inside the 24-hour cut-off already
    mine = await client.say("/my", expect="Ваши записи")
    card = await client.step(mine, "11.03 10:00")
    assert "только по звонку" in card["text"]
    assert labels(card) == ["⬅️ Назад"]
    booking_id = await db.fetchval("SELECT id FROM bookings WHERE status = 'confirmed'")
    answer, _ = await client.press_data(card, MyCb(act="cancel_yes", id=booking_id).pack(), force=True)
    assert "До визита меньше 24 ч" in answer["text"]
    assert await db.fetchval("SELECT status FROM bookings WHERE id = $1", booking_id) == "confirmed"


async def test_business_time_zone_across_dst(
    make_tenant: Callable[..., Awaitable[TenantBot]], db: asyncpg.Pool, clock: ManualClock
) -> None:
    # Berlin switches to summer time on Sunday 2025-03-30. It is Friday 28 March, 11:00 there.
    clock.set(datetime(2025, 3, 28, 10, 0, tzinfo=UTC))
    tenant = await make_tenant(timezone="Europe/Berlin", language="en")
    await seed_salon(db)
    client = tenant.person(704, "Eva", lang="en")
    await client.say("/start", expect="Hello, Eva")
    screen = await client.say("📅 Book", expect="Step 1 of 4")
    screen = await client.step(screen, "Haircut")
    screen = await client.step(screen, "Next")
    screen = await client.step(screen, "Anna", exact=True)
    friday = await client.step(screen, "28", exact=True)
    assert labels(friday)[0] == "12:00"  # 11:00 now plus an hour's notice
    screen = await client.step(friday, "Back")
    screen = await client.step(screen, "31", exact=True)
    assert labels(screen)[0] == "10:00"  # the same wall-clock hours after the change
    screen = await client.step(screen, "10:00", exact=True)
    done = await client.step(screen, "Confirm")
    assert "Mon, 31 Mar, 10:00" in done["text"]
    starts_at = await db.fetchval("SELECT starts_at FROM bookings WHERE status = 'confirmed'")
    assert starts_at == datetime(2025, 3, 31, 8, 0, tzinfo=UTC)  # CEST is UTC+2

    # 24 real hours before is Sunday 10:00 CEST = 08:00 UTC, not 09:00 UTC as naive wall-clock maths gives.
    worker = tenant.worker()
    clock.set(datetime(2025, 3, 30, 7, 59, tzinfo=UTC))
    assert await worker.run_once() == 0
    clock.advance(timedelta(minutes=1))
    assert await worker.run_once() == 1
    reminder = await client.wait("Booking reminder")
    assert "Mon, 31 Mar, 10:00" in reminder["text"]
