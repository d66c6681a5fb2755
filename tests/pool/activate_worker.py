"""A separate process that activates tenants concurrently (the 'several processes' of the pool test).

Reads a JSON list of tenant specs on stdin, activates them all at once through
the shared entry point, and prints one JSON result per tenant. The optional
``BOTPOOL_TEST_POOL_WAIT_S`` sets how long each activation waits for a slot.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import redis.asyncio as aioredis
from pydantic import SecretStr

from botpool import settings as cfg
from botpool.clients import consul as consul_client
from botpool.clients import vault as vault_client
from botpool.clients.postgres import create_pool
from botpool.errors import BotpoolError
from botpool.tenancy.activation import POOL_WAIT_S, Activator, TenantSpec


async def main() -> None:
    specs = json.load(sys.stdin)
    vault_settings = cfg.load(cfg.VaultSettings)
    dsn = cfg.load(cfg.DatabaseSettings).url.get_secret_value()
    consul = consul_client.connect(cfg.load(cfg.ConsulSettings))
    db = await create_pool(dsn, min_size=1, max_size=8)
    redis = aioredis.Redis.from_url(cfg.load(cfg.RedisSettings).url.get_secret_value())
    act = Activator(
        consul=consul, vault=vault_client.connect(vault_settings), kv_mount="secret", db=db, redis_admin=redis,
        database_name=urlparse(dsn).path.lstrip("/"),
        pool_wait_s=float(os.environ.get("BOTPOOL_TEST_POOL_WAIT_S") or POOL_WAIT_S),
    )

    async def one(spec: dict[str, str]) -> dict[str, object]:
        tenant = TenantSpec(
            tenant_id=spec["tenant_id"], bot_token=SecretStr(spec["token"]), admin_telegram_id=int(spec["admin"]),
            company_name=spec["company"], paid_until=datetime.now(UTC) + timedelta(days=30),
        )
        try:
            result = await act.activate(tenant)
        except BotpoolError as exc:
            return {"tenant_id": spec["tenant_id"], "error": str(exc)}
        return {"tenant_id": result.tenant_id, "slot": result.slot_index, "bot": result.bot_username,
                "seconds": result.seconds}

    results = await asyncio.gather(*(one(s) for s in specs))
    print(json.dumps(results))
    await db.close()
    await redis.aclose()
    await consul.close()


if __name__ == "__main__":
    asyncio.run(main())
