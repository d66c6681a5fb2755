"""Whether the services an active tenant bot needs (its PostgreSQL pool, its Redis) answer right now.

Why a watch of its own instead of counting failed updates: a quiet bot
handles no update for hours, yet Consul (and an operator reading its UI)
should see within seconds that the slot cannot serve, and see it recover.
Why the slot reports this as *degraded* rather than failing: the outage of a
shared service hits every slot at once, and a failing check would drop every
slot out of the pool, so the reconciler would move every tenant to other slots
that cannot reach the service either. Degraded (Consul's "warning") keeps
the slot in the pool and the tenant where it is; the bot apologises meanwhile, and
both clients (asyncpg's pool, redis-py's) reconnect by themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    import asyncpg
    import redis.asyncio as aioredis

log = structlog.get_logger("bot_runtime.dependencies")


class DependencyWatch:
    """Probes PostgreSQL and Redis every ``interval`` seconds (every second while one is down)."""

    def __init__(
        self, db: asyncpg.Pool, redis: aioredis.Redis, *, interval: float = 5.0, timeout: float = 2.0
    ) -> None:
        """Bind to the tenant's own connections: what is probed is exactly what the bot uses."""
        self._db = db
        self._redis = redis
        self._interval = interval
        self._timeout = timeout
        #: Names of the services that did not answer the last probe (empty when all is well).
        self.down: tuple[str, ...] = ()

    async def check(self) -> tuple[str, ...]:
        """Probe both services once, concurrently, and remember which did not answer."""
        postgres, redis = await asyncio.gather(self._answers(self._select_one()), self._answers(self._ping()))
        down = tuple(name for name, ok in (("postgres", postgres), ("redis", redis)) if not ok)
        if down != self.down:
            if down:
                log.warning("tenant dependency unavailable", down=list(down))
            else:
                log.info("tenant dependencies back", were_down=list(self.down))
        self.down = down
        return down

    async def run(self, stop: asyncio.Event) -> None:
        """Probe until ``stop``; a probe never raises, so this task ends only when asked."""
        while not stop.is_set():
            await self.check()
            with contextlib.suppress(TimeoutError):  # asyncio.timeout: wait_for may swallow a cancel on 3.11
                async with asyncio.timeout(1.0 if self.down else self._interval):
                    await stop.wait()

    async def _answers(self, probe: Coroutine[Any, Any, object]) -> bool:
        try:
            async with asyncio.timeout(self._timeout):
                await probe
        except Exception:
            return False
        return True

    async def _select_one(self) -> object:
        return await self._db.fetchval("SELECT 1")

    async def _ping(self) -> object:
        return await self._redis.ping()
