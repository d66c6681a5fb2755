"""PostgreSQL connection pools (asyncpg) for the control plane and tenant bots."""

from __future__ import annotations

from typing import Any

import asyncpg


async def create_pool(dsn: str | None = None, *, min_size: int = 1, max_size: int = 5, **kwargs: Any) -> asyncpg.Pool:
    """Open a small pool; every service keeps its own and closes it on shutdown.

    Pools are small on purpose: a hundred tenant bots share one server, so each
    needs only a couple of connections.
    """
    return await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, **kwargs)
