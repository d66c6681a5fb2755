"""Start a stand-in as a child process, wait for the line that announces its URL, and stop it cleanly.

Both stand-ins (Telegram, YooKassa) run as separate processes, not as tasks in
the caller's event loop: the bots and the sales bot under test run in other
processes (Nomad allocations) and must reach them whatever the caller's loop
is doing. Each prints ``<name> stand-in listening on <url>`` on stdout once it
serves; its log goes to a file so a failed start can show it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
_REPO_ROOT = Path(__file__).resolve().parents[2]


async def start(
    name: str, module: str, args: Sequence[str], log_path: Path, *, env: Mapping[str, str] | None = None
) -> tuple[str, asyncio.subprocess.Process]:
    """Run ``python -m module args`` and return (its base URL, the process) once it announced the URL.

    A stand-in that does not announce itself within ``START_TIMEOUT_S`` is stopped, and the error
    carries its log, so a failed start explains itself.
    """
    ready = f"{name} stand-in listening on "
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", module, *args,
            stdout=asyncio.subprocess.PIPE, stderr=log_file, cwd=_REPO_ROOT, env=None if env is None else dict(env),
        )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(START_TIMEOUT_S):
            line = (await process.stdout.readline()).decode().strip()
    except TimeoutError:
        line = ""
    if not line.startswith(ready):
        await stop(process)
        log = await asyncio.to_thread(lambda: log_path.read_text(errors="replace") if log_path.exists() else "")
        raise RuntimeError(f"{name} stand-in did not start (stdout {line!r}); log:\n{log}")
    return line.removeprefix(ready), process


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
