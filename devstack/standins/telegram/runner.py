"""Run the Telegram stand-in as a child process (tests, benchmarks, demos) and stop it cleanly.

A separate process, not a task in the caller's event loop: bots under test run
in other processes (Nomad allocations) and must reach it whatever the caller's
loop is doing.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path

READY_PREFIX = "telegram stand-in listening on "
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
_REPO_ROOT = Path(__file__).resolve().parents[3]


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
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "devstack.standins.telegram", "--host", host, "--port", str(port),
            "--log-level", log_level,
            stdout=asyncio.subprocess.PIPE, stderr=log_file, cwd=_REPO_ROOT,
        )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            line = (await process.stdout.readline()).decode().strip()
    except TimeoutError:
        line = ""
    if not line.startswith(READY_PREFIX):
        await stop(process)
        log = await asyncio.to_thread(lambda: log_path.read_text(errors="replace") if log_path.exists() else "")
        raise RuntimeError(f"telegram stand-in did not start (stdout {line!r}); log:\n{log}")
    return RunningStandin(line.removeprefix(READY_PREFIX), process, log_path)


async def stop(process: asyncio.subprocess.Process) -> None:
    """Terminate politely, kill if it does not exit in time."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        async with asyncio.timeout(STOP_TIMEOUT_S):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
