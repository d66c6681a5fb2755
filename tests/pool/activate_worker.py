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

from pydantic import SecretStr

from botpool import wiring
from botpool.errors import BotpoolError
from botpool.tenancy.activation import POOL_WAIT_S, Activator, TenantSpec


async def main() -> None:
    specs = json.load(sys.stdin)
    async with wiring.control_plane(
        wiring.ControlPlaneSettings.load(), db_max_size=8,
        pool_wait_s=float(os.environ.get("BOTPOOL_TEST_POOL_WAIT_S") or POOL_WAIT_S),
    ) as plane:
        results = await asyncio.gather(*(_one(plane.activator, s) for s in specs))
    print(json.dumps(results))


async def _one(act: Activator, spec: dict[str, str]) -> dict[str, object]:
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


if __name__ == "__main__":
    asyncio.run(main())
