"""Telling a dependency outage from a bug: one list, used by every bot's error boundary.

A bot that loses Redis or PostgreSQL for a moment (a restart, a failover) should tell its user "try again
in a minute" and log one line; anything else is a bug someone must look at, logged with its traceback.
The booking bot and the sales bot both answer that way, so what counts as an outage is decided here once.
"""

from __future__ import annotations

import asyncpg
import redis.exceptions

#: Exceptions that mean a backing service is unreachable or restarting rather than a bug in the bot.
OUTAGES: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,  # also refused AUTH and a Redis still loading its data
    redis.exceptions.TimeoutError,
    asyncpg.PostgresConnectionError,  # a pooled connection the server closed
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up, crash recovery
    asyncpg.exceptions.TooManyConnectionsError,
    OSError,  # connection refused or reset while (re)connecting
    TimeoutError,
)


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what it was raised from) says a dependency is down, not that the code is wrong."""
    return isinstance(exc, OUTAGES) or isinstance(exc.__cause__, OUTAGES)
