"""Bad input gets a helpful answer and never an error: free text, stale buttons, forged data, huge messages."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import asyncpg
import pytest

from bot_runtime.booking.callbacks import AdminCb, BookCb, MyCb
from bot_runtime.booking.clock import ManualClock
from tests.booking.harness import JsonDict, Person, TenantBot, labels
from tests.booking.support import seed_salon

HUGE = "Я" * 4096  # the largest message Telegram lets a user send


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test here also fails if the bot logged an error (an exception reached the boundary)."""
    caplog.set_level(logging.ERROR, logger="botpool.booking")
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("botpool.booking")]
    assert not errors, [r.getMessage()[:300] for r in errors]


async def test_free_text_commands_and_huge_messages(tenant: TenantBot, db: asyncpg.Pool) -> None:
    await seed_salon(db)
    client = tenant.person(901, "Ира")
    await client.say("/start", expect="Здравствуйте")
    reply = await client.say("хочу на стрижку завтра")
    assert "Я не понял" in reply["text"] and "/book" in reply["text"]
    assert "Такой команды нет" in (await client.say("/foo"))["text"]
    assert "Я не понял" in (await client.say(HUGE))["text"]

    screen = await client.say("/book", expect="Шаг 1 из 4")
    await client.step(screen, "Haircut")
    reply = await client.say("а можно в пятницу?")
    assert "жду нажатия кнопки" in reply["text"] and "/cancel" in reply["text"]
    assert "жду нажатия кнопки" in (await client.say(HUGE))["text"]
    assert "прервано" in (await client.say("/cancel"))["text"]


async def test_stale_and_forged_buttons(tenant: TenantBot, db: asyncpg.Pool, clock: ManualClock) -> None:
    await seed_salon(db)
    client = tenant.person(902, "Олег")
    await client.say("/start", expect="Здравствуйте")
    old = await client.say("/book", expect="Шаг 1 из 4")
    old = await client.step(old, "Haircut")
    new = await client.say("/book", expect="Шаг 1 из 4")

    # A button under the older flow message: explained, and the old keyboard is removed.
    answer, old_now = await client.tap(old, "Далее")
    assert "меню устарело" in answer["text"] and answer["show_alert"]
    assert labels(old_now) == []
    assert "Шаг 1 из 4" in (await client.message(new["message_id"]))["text"]

    # Forged or malformed data on the live message.
    for data in (BookCb(act="slot", v="abc").pack(), BookCb(act="day", v="20251399").pack(), "garbage", "bk:x"):
        answer, _ = await client.press_data(new, data, force=True)
        assert "устарело" in answer["text"], data
    answer, _ = await client.press_data(old, MyCb(act="open", id=999999).pack(), force=True)
    assert "неактуальна" in answer["text"]
    answer, _ = await client.press_data(new, AdminCb(act="day", v="20250310").pack(), force=True)
    assert "устарело" in answer["text"]  # not an admin: the panel's buttons do nothing for them

    # A time shown an hour ago is no longer bookable (minimum notice): the list is redrawn.
    screen = await client.step(new, "Beard")
    screen = await client.step(screen, "Далее")
    screen = await client.step(screen, "Boris", exact=True)
    screen = await client.step(screen, "10", exact=True)
    assert labels(screen)[0] == "13:00"
    clock.advance(timedelta(hours=1))
    answer, screen = await client.tap(screen, "13:00", exact=True)
    assert "только что заняли" in answer["text"]
    assert labels(screen)[0] == "14:00"


async def test_hold_expires_and_is_taken(tenant: TenantBot, db: asyncpg.Pool, clock: ManualClock) -> None:
    await seed_salon(db)
    slow, fast = tenant.person(903, "Медленный"), tenant.person(904, "Быстрый")

    async def to_confirm(person_id: int) -> tuple[Person, JsonDict]:
        person = slow if person_id == 903 else fast
        screen = await person.say("/book", expect="Шаг 1 из 4")
        screen = await person.step(screen, "Haircut")
        screen = await person.step(screen, "Далее")
        screen = await person.step(screen, "Anna", exact=True)
        screen = await person.step(screen, "12", exact=True)
        return person, await person.step(screen, "11:00", exact=True)

    _, slow_confirm = await to_confirm(903)
    assert "удерживается" in slow_confirm["text"]
    clock.advance(timedelta(minutes=11))
    _, fast_confirm = await to_confirm(904)
    assert "удерживается" in fast_confirm["text"]
    answer, slow_now = await slow.tap(slow_confirm, "Подтвердить")
    assert "уже занято другим клиентом" in answer["text"]
    assert "11:00" not in labels(slow_now)
    done = await fast.step(fast_confirm, "Подтвердить")
    assert "Вы записаны" in done["text"]


async def test_owner_typing_nonsense(tenant: TenantBot, db: asyncpg.Pool) -> None:
    await seed_salon(db)
    owner = tenant.person(tenant.config.admin_telegram_id, "Ольга")
    await owner.say("/start", expect="Здравствуйте")
    screen = await owner.say("/admin", expect="Управление")
    screen = await owner.step(screen, "Мастера")
    screen = await owner.step(screen, "Anna", exact=True)
    await owner.step(screen, "Часы")
    assert "Не понял расписание" in (await owner.say("когда-нибудь"))["text"]
    assert "Слишком длинный" in (await owner.say(HUGE))["text"]
    card = await owner.say("Вс 12-16", expect="Часы работы")
    assert "Вс: 12:00-16:00" in card["text"]
    screen = await owner.say("/admin", expect="Управление")
    screen = await owner.step(screen, "Услуги")
    await owner.step(screen, "Добавить")
    assert "Нужно 3–4 части" in (await owner.say("Стрижка за 500"))["text"]
    assert "Не понял длительность" in (await owner.say("Стрижка; долго; 500"))["text"]


async def test_a_failing_handler_apologises_and_logs_without_the_token(
    tenant: TenantBot, db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_salon(db)
    client = tenant.person(905, "Павел")
    await client.say("/start", expect="Здравствуйте")
    await db.execute("ALTER TABLE services RENAME TO services_gone")  # the database breaks under the bot
    try:
        reply = await client.say("/book")
    finally:
        await db.execute("ALTER TABLE services_gone RENAME TO services")
    assert "Что-то пошло не так" in reply["text"]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name == "botpool.booking"]
    assert len(errors) == 1 and "UndefinedTableError" in errors[0].getMessage()
    assert tenant.info.token not in caplog.text
    caplog.clear()  # the error was the point of this test
    assert "Шаг 1 из 4" in (await client.say("/book"))["text"]  # and the bot carries on


async def test_blacklisted_client_is_told_to_call(tenant: TenantBot, db: asyncpg.Pool) -> None:
    await seed_salon(db)
    client = tenant.person(906, "Спамер")
    await client.say("/start", expect="Здравствуйте")
    await db.execute("UPDATE clients SET blacklisted = true WHERE telegram_id = 906")
    assert "Онлайн-запись для вас недоступна" in (await client.say("/book"))["text"]
