"""Run the YooKassa stand-in as a child process (tests, demos, the local stack) and stop it cleanly.

A separate process, like the Telegram stand-in: the sales bot under test may run in another process
(a Nomad allocation) and must reach it, and it must deliver notifications whatever the caller's event
loop is doing.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

READY_PREFIX = "yookassa stand-in listening on "
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
_REPO_ROOT = Path(__file__).resolve().parents[3]


@dataclass
class RunningStandin:
    """A started stand-in: its base URL (the SDK's ``api_url`` is ``base_url + "/v3"``), process and log."""

    base_url: str
    process: asyncio.subprocess.Process
    log_path: Path

    @property
    def api_url(self) -> str:
        """What to pass to ``Configuration.configure(..., api_url=...)``."""
        return f"{self.base_url}/v3"


async def start(
    log_path: Path, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "INFO",
    shop_id: str | None = None, secret_key: str | None = None, notification_url: str | None = None,
    max_retry_s: float = 2.0, max_attempts: int = 30,
) -> RunningStandin:
    """Start the stand-in on a free port (``port=0``) and return once it announced its URL.

    The start-up shop's secret key travels in the child's environment, never on its command line.
    """
    args = [
        sys.executable, "-m", "devstack.standins.yookassa", "--host", host, "--port", str(port),
        "--log-level", log_level, "--max-retry", str(max_retry_s), "--max-attempts", str(max_attempts),
    ]
    env = dict(os.environ)
    if shop_id:
        args += ["--shop-id", shop_id]
        if secret_key:
            env["YOOKASSA_SECRET_KEY"] = secret_key
    if notification_url:
        args += ["--notification-url", notification_url]
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, stderr=log_file, cwd=_REPO_ROOT, env=env,
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
        raise RuntimeError(f"yookassa stand-in did not start (stdout {line!r}); log:\n{log}")
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
