"""After the purchases: no bot token, YooKassa secret or checkout URL anywhere it must not be: the sales
bot's logs, the slots' logs, Consul values, Redis values, or text stored in the control database.

Runs last in this package (file order), after every other purchase test left its traces.
"""

from __future__ import annotations

import json

import aiohttp
import asyncpg
import pytest
import redis.asyncio as aioredis
from consul.aio import Consul

from tests.fixtures.stack import RedisHandle
from tests.fixtures.telegram import TelegramStandin
from tests.fixtures.yookassa import YooKassaStandin
from tests.pool.conftest import Pool
from tests.sales.conftest import SalesBot


async def _secrets(telegram_standin: TelegramStandin, yookassa_standin: YooKassaStandin,
                   sales_bot: SalesBot) -> dict[str, str]:
    found: dict[str, str] = {"yookassa secret key": sales_bot.shop.secret_key}
    async with aiohttp.ClientSession() as session, session.get(f"{telegram_standin.base_url}/control/bots") as resp:
        for bot in (await resp.json())["bots"]:
            found[f"token of @{bot['username']}"] = bot["token"]
    for payment in await yookassa_standin.control.payments(shop_id=sales_bot.shop.shop_id):
        url = (payment.get("confirmation") or {}).get("confirmation_url")
        if url:
            found[f"checkout URL of {payment['id']}"] = url
    return found


async def test_no_secret_anywhere(
    pool: Pool, sales_bot: SalesBot, telegram_standin: TelegramStandin, yookassa_standin: YooKassaStandin,
    consul: Consul, redis_server: RedisHandle, db: asyncpg.Pool,
) -> None:
    secrets = await _secrets(telegram_standin, yookassa_standin, sales_bot)
    if len(secrets) < 3:
        pytest.fail("no purchase left traces to check; run the whole tests/sales package")
    places: dict[str, str] = {"sales bot logs": sales_bot.log_text()}
    places["slot logs"] = "\n".join(p.read_text(errors="replace") for p in pool.logs())
    _, kv = await consul.kv.get("", recurse=True)
    places["consul"] = "\n".join(f"{e['Key']}={_text(e.get('Value'))}" for e in kv or [])
    _, nodes = await consul.catalog.nodes()  # the slots' states are node meta
    places["consul catalog"] = json.dumps(nodes)
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        values = []
        async for key in client.scan_iter(count=500):
            kind = _text(await client.type(key))
            if kind == "string":
                values.append(str(await client.get(key)))
            elif kind == "hash":
                values.append(str(await client.hgetall(key)))
        places["redis"] = "\n".join(values)
    finally:
        await client.aclose()
    rows = await db.fetch(
        "SELECT coalesce(status_reason, '') || ' ' || coalesce(company_name, '') AS t FROM control.orders "
        "UNION ALL SELECT coalesce(last_error, '') FROM control.tenants "
        "UNION ALL SELECT detail FROM control.payment_anomalies"
    )
    places["database"] = "\n".join(r["t"] for r in rows)
    leaks = [f"{name} in {place}" for name, secret in secrets.items() for place, text in places.items()
             if secret and secret in text]
    assert leaks == []


def _text(value: bytes | str | None) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else (value or "")
