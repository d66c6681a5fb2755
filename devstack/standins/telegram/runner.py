"""Run the Telegram stand-in as a child process (tests, benchmarks, demos) and stop it cleanly.

A separate process, not a task in the caller's event loop: bots under test run
in other processes (Nomad allocations) and must reach it whatever the caller's
loop is doing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from devstack.standins import child


@dataclass
class RunningStandin:
    """A started stand-in: its base URL, its process and where it logs."""

    base_url: str
    process: asyncio.subprocess.Process
    log_path: Path


async def start(
    log_path: Path, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "INFO"
) -> RunningStandin:
    """Start the stand-in on a free port (``port=0``) and return once it announced its URL."""
    base_url, process = await child.start(
        "telegram", "devstack.standins.telegram",
        ["--host", host, "--port", str(port), "--log-level", log_level], log_path,
    )
    return RunningStandin(base_url, process, log_path)


stop = child.stop
