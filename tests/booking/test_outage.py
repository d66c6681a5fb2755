"""Redis or PostgreSQL restarts under a live booking bot: users hear "technical pause", then carry on.

These restart the test session's real servers (tests/fixtures/outage.py brings
them back before the next test, whatever happens here). The bot is the real
dispatcher polling the Telegram stand-in; nothing is restarted but the server.
"""

from __future__ import annotations

import logging

import asyncpg
import pytest

from devstack.stack import Stack
from tests.booking.harness import TenantBot, buttons
from tests.booking.support import seed_salon
from tests.fixtures.outage import outage

PAUSE_RU = "технический перерыв"
PAUSE_EN = "technical pause"


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Error records of the bot or of aiogram (which logs a traceback for an update nobody handled)."""
    return [
        r.getMessage() for r in caplog.records
        if r.levelno >= logging.ERROR and r.name.startswith(("botpool.booking", "aiogram"))
    ]


async def test_a_redis_restart_gets_an_apology_in_each_users_language_and_the_bot_carries_on(
    tenant: TenantBot, db: asyncpg.Pool, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_salon(db)
    client = tenant.person(931, "Олег")
    english = tenant.person(932, "John", lang="en")
    owner = tenant.person(tenant.config.admin_telegram_id, "Хозяйка")
    await client.say("/start", expect="Здравствуйте")
    await english.say("/start", expect="Здравствуйте")
    await english.say("/lang", expect="Language: English")
    await owner.say("/start", expect="Здравствуйте")
    screen = await client.say("/book", expect="Шаг 1 из 4")

    async with outage(stack, "redis"):
        assert PAUSE_RU in (await client.say("/book", timeout=30))["text"].lower()
        assert PAUSE_EN in (await english.say("/book", timeout=30))["text"].lower()
        assert PAUSE_RU in (await owner.say("/admin", timeout=30))["text"].lower()
        answer, _ = await client.press_data(screen, buttons(screen)[0]["callback_data"])
        assert PAUSE_RU in answer["text"].lower() and answer.get("show_alert")

    # The same bot, never restarted, serves the same people again (its Redis client reconnected).
    assert "Шаг 1 из 4" in (await client.say("/book", timeout=30))["text"]
    assert "Step 1 of 4" in (await english.say("/book"))["text"]
    assert "Управление" in (await owner.say("/admin"))["text"]
    assert tracebacks(caplog) == []


async def test_a_postgres_restart_gets_an_apology_and_the_bot_carries_on(
    tenant: TenantBot, db: asyncpg.Pool, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_salon(db)
    client = tenant.person(933, "Вера")
    owner = tenant.person(tenant.config.admin_telegram_id, "Хозяйка")
    await client.say("/start", expect="Здравствуйте")
    await owner.say("/start", expect="Здравствуйте")

    async with outage(stack, "postgres"):
        # With the database down the bot cannot read the client's language: the salon's (Russian) is used.
        assert PAUSE_RU in (await client.say("/book", timeout=30))["text"].lower()
        assert PAUSE_RU in (await owner.say("/admin", timeout=30))["text"].lower()

    # The bot's pool reconnects by itself; the conversation goes on.
    screen = await client.say("/book", expect="Шаг 1 из 4", timeout=30)
    await client.step(screen, buttons(screen)[0]["text"], exact=True)
    assert "Управление" in (await owner.say("/admin"))["text"]
    assert tracebacks(caplog) == []
