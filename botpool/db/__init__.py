"""PostgreSQL helpers shared by every service: connection pools and schema migrations."""

from __future__ import annotations

from typing import TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

#: A connection, whether opened directly or borrowed from a pool.
Conn: TypeAlias = asyncpg.Connection | PoolConnectionProxy
