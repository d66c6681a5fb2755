"""Run the YooKassa stand-in as a child process (tests, demos, the local stack) and stop it cleanly.

A separate process, like the Telegram stand-in: the sales bot under test may run in another process
(a Nomad allocation) and must reach it, and it must deliver notifications whatever the caller's event
loop is doing.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from devstack.standins import child


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
        "--host", host, "--port", str(port),
        "--log-level", log_level, "--max-retry", str(max_retry_s), "--max-attempts", str(max_attempts),
    ]
    env = dict(os.environ)
    if shop_id:
        args += ["--shop-id", shop_id]
        if secret_key:
            env["YOOKASSA_SECRET_KEY"] = secret_key
    if notification_url:
        args += ["--notification-url", notification_url]
    base_url, process = await child.start("yookassa", "devstack.standins.yookassa", args, log_path, env=env)
    return RunningStandin(base_url, process, log_path)


stop = child.stop
