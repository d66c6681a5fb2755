"""What the Telegram stand-in's control routes share: reading their input, refusing it, and waiting.

Control requests carry loosely typed JSON and query strings written by tests; these helpers coerce them
with one clear error each. ``wait_until`` is the server-side long poll behind every ``wait`` route, so a
test waits for the state a user would see instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp import web

from devstack.standins.telegram.errors import ControlError, JsonDict
from devstack.standins.telegram.records import UserRecord
from devstack.standins.telegram.state import World

MAX_WAIT_SECONDS = 120.0


def error_response(status: int, message: str) -> web.Response:
    """Answer a refused control request with a small JSON body."""
    return web.json_response({"error": message, "status": status}, status=status)


async def read_body(request: web.Request) -> JsonDict:
    """Read a JSON object body, refusing anything else."""
    try:
        body = await request.json()
    except ValueError:
        raise ControlError(400, "JSON object body expected") from None
    if not isinstance(body, dict):
        raise ControlError(400, "JSON object body expected")
    return body


def as_int(value: Any, name: str, default: int | None = None) -> int:
    """Coerce a required integer field, naming it in the error."""
    if value is None or value == "":
        if default is not None:
            return default
        raise ControlError(400, f"{name} is required")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(400, f"{name} must be an integer") from None


def wait_seconds(value: str | None) -> float:
    """Parse a wait's ``timeout`` query parameter: default 10 s, clamped to 0..MAX_WAIT_SECONDS."""
    if value is None or value == "":
        return 10.0
    try:
        return min(max(float(value), 0.0), MAX_WAIT_SECONDS)
    except ValueError:
        raise ControlError(400, "timeout must be a number") from None


def as_bool(value: Any) -> bool:
    """Coerce a flag given as JSON boolean or query-string text."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes") if value is not None else False


def read_user(world: World, data: Any) -> UserRecord:
    """Create or refresh the user described by a request's ``user`` object."""
    if not isinstance(data, dict):
        raise ControlError(400, "user object is required")
    user_id = as_int(data.get("id"), "user.id")
    if user_id <= 0:
        raise ControlError(400, "user.id must be positive")
    return world.upsert_user(
        user_id,
        str(data.get("first_name") or f"User {user_id}"),
        last_name=data.get("last_name"),
        username=data.get("username"),
        language_code=data.get("language_code"),
    )


async def wait_until(
    world: World,
    timeout: float,  # noqa: ASYNC109 - a long poll's budget, given by the caller's request
    ready: Callable[[], web.Response | None],
    expired: str,
) -> web.Response:
    """Answer with ``ready()``'s response as soon as it has one, re-checking on every change of the world.

    Answers 408 with ``expired`` when ``timeout`` seconds pass first, and 503 when the stand-in shuts
    down; ``ready`` may raise ``ControlError`` to refuse the wait (e.g. an unknown message).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        response = ready()
        if response is not None:
            return response
        remaining = deadline - loop.time()
        if world.closing:
            return error_response(503, "the stand-in is shutting down")
        if remaining <= 0:
            return error_response(408, expired)
        await world.changed.wait(remaining)
