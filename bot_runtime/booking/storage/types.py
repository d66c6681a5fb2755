"""Connection types accepted by the repositories (asyncpg's pool hands out proxies)."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

#: A single connection, e.g. one inside a transaction: plain or from a pool.
Tx: TypeAlias = asyncpg.Connection | PoolConnectionProxy
#: Anything that can run one query: a connection or the pool itself.
Conn: TypeAlias = Tx | asyncpg.Pool
