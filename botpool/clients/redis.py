"""Redis clients made from a URL, retried on a dropped connection, so a Redis restart costs no request.

Why this module: redis-py gives a client built with ``Redis(...)`` three retries on connection errors,
but one built with ``Redis.from_url`` none: its pool's connections default to ``Retry(NoBackoff(), 0)``.
After a Redis restart every pooled connection was dead, and each failed its next command once (the
health check's PING fails the same way), so a buyer's update failed with "technical break" seconds
after Redis was back; a managed-bot creation lost that way cannot be repeated by the buyer. With
these retries a dead connection is replaced and the command runs again; a Redis that is really down
still fails within about a second, and the caller apologises as before. The ``Retry`` is the asyncio
one: redis-py also accepts its synchronous ``Retry`` here and then silently never retries.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

#: Retries of a command whose connection dropped, and their backoff (seconds): ~0.05, 0.1, 0.2, capped at 1.
RETRIES = 3
BACKOFF_BASE_S = 0.05
BACKOFF_CAP_S = 1.0


def from_url(url: str, **kwargs: Any) -> aioredis.Redis:
    """``Redis.from_url`` with the retries every client of ours needs (see the module docstring)."""
    retry = Retry(ExponentialWithJitterBackoff(base=BACKOFF_BASE_S, cap=BACKOFF_CAP_S), RETRIES)
    return aioredis.Redis.from_url(
        url, retry=retry, retry_on_error=[RedisConnectionError, RedisTimeoutError], **kwargs
    )
