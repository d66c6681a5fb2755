"""Fixtures for the reconciler tests: the real pool job, the shared activator and a real reconciler process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from tests.pool.conftest import (  # noqa: F401 - fixtures, used by name
    activator,
    activator_token,
    control_env,
    pool,
    reconciler,
    root_vault,
    slot_env,
)


async def wait_for_log(path: Path, event: str, *, timeout_s: float = 30, after: int = 0) -> dict[str, Any]:
    """Wait until the process logging to ``path`` logged ``event`` (past line ``after``); return that line.

    What an operator would see in the reconciler's log; read as it grows.
    """
    async with asyncio.timeout(timeout_s):
        while True:
            for number, line in enumerate(path.read_text(errors="replace").splitlines()):
                if number < after or not line.startswith("{"):
                    continue
                entry: dict[str, Any] = json.loads(line)
                if entry.get("event") == event:
                    return entry
            await asyncio.sleep(0.2)


def log_length(path: Path) -> int:
    """Lines logged so far (to wait only for what comes after)."""
    return len(path.read_text(errors="replace").splitlines())
