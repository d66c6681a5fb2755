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


async def keep_session(connection: asyncpg.Connection) -> None:
    """Give a released connection back to the pool as it is, unless it was left inside a transaction.

    asyncpg's default resets every released connection with one more round trip (``RESET ALL``,
    ``UNLISTEN *``, unlocking session advisory locks, ...). A tenant bot acquires a connection for
    each query, so that doubled its round trips to PostgreSQL, and on the booking benchmark those
    writes to the socket were a good part of the bot's CPU per update (docs/performance.md). Tenant
    code keeps no session state to reset: no ``SET``, ``LISTEN`` or session-level lock (its one lock,
    ``pg_advisory_xact_lock``, ends with its transaction). A connection released inside a
    transaction (a bug; ``conn.transaction()`` always ends its own) still gets the full reset,
    which rolls it back.
    """
    if connection.is_in_transaction():
        await connection.reset()
