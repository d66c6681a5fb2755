"""The local sales bot: created in the Telegram stand-in with bot management on, its secrets in a file;
and the sales bot as a child process for tests and the purchase benchmark (``SalesProcess``).

``botpool up`` calls ``prepare`` and submits ``jobs/sales-bot.nomad.hcl`` with the non-secret settings
as job variables and only the path of the secret ones (the bot token, the YooKassa key, the database
and Redis URLs, the sales bot's own Vault token), written to ``<root>/sales-bot.env`` with
owner-only permissions: secrets stay out of the job spec, Consul and argv, as in production where the
job's template reads them from Vault.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from devstack import vault_access
from devstack.programs import YooKassaStandin
from devstack.stack import Stack
from devstack.standins.telegram.client import TelegramControl

#: The local sales bot's username in the stand-in.
SALES_BOT_USERNAME = "botpool_sales_bot"
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SalesDeployment:
    """What the job is submitted with: plain settings, the secrets file and the notification port."""

    env: dict[str, str]
    env_file: Path
    notify_port: int
    username: str


def activator_token(stack: Stack) -> str:
    """The sales bot's own Vault token (token role ``botpool-sales-bot``: the activator policy), issued by ``up``."""
    return vault_access.role_token(stack.state, "sales-bot")


async def prepare(stack: Stack) -> SalesDeployment:
    """Create (idempotently) the sales bot in the stand-in and write its secrets file."""
    ports = stack.state.ports
    telegram = f"http://127.0.0.1:{ports['telegram']}"
    async with TelegramControl(telegram) as control:
        bot = await control.create_bot(SALES_BOT_USERNAME, can_manage_bots=True, first_name="botpool")
    control_env = stack.env()
    secrets = {
        "SALES_BOT_TOKEN": bot.token,
        "YOOKASSA_SHOP_ID": YooKassaStandin.SHOP_ID,
        "YOOKASSA_SECRET_KEY": stack.state.secret("yookassa_secret_key"),
        "VAULT_TOKEN": activator_token(stack),
        "BOTPOOL_DATABASE_URL": control_env["BOTPOOL_DATABASE_URL"],
        "BOTPOOL_REDIS_URL": control_env["BOTPOOL_REDIS_URL"],
    }
    path = stack.root / "sales-bot.env"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.writelines(f"{k}={v}\n" for k, v in secrets.items())
    env = {
        "CONSUL_HTTP_ADDR": control_env["CONSUL_HTTP_ADDR"],
        "VAULT_ADDR": control_env["VAULT_ADDR"],
        "TELEGRAM_API_BASE": telegram,
        "YOOKASSA_API_URL": f"http://127.0.0.1:{ports['yookassa']}/v3",
        "YOOKASSA_RETURN_URL": f"https://t.me/{SALES_BOT_USERNAME}",
        "YOOKASSA_TRUSTED_NETWORKS": "127.0.0.1/32",
        "YOOKASSA_PENDING_CHECK_S": "5",
    }
    return SalesDeployment(env, path, ports["sales_notify"], SALES_BOT_USERNAME)


class SalesProcess:
    """The sales bot as a child process (tests and the purchase benchmark): start, SIGKILL, stop.

    ``env`` is its whole environment (secrets included: a child's environment is not argv). Each start
    writes a new log file in ``log_dir``, so a test can read everything every incarnation wrote.
    """

    def __init__(self, env: dict[str, str], log_dir: Path, notify_port: int) -> None:
        """Remember how to start it; nothing runs yet."""
        self.env = env
        self.log_dir = log_dir
        self.notify_port = notify_port
        self.logs: list[Path] = []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def notify_url(self) -> str:
        """Where YooKassa's notifications go."""
        return f"http://127.0.0.1:{self.notify_port}/yookassa/notifications"

    async def start(self, *, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Start a new process and wait until its endpoint answers /health (it then polls Telegram)."""
        log = self.log_dir / f"sales-bot-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, not awaited
                [sys.executable, "-m", "sales_bot"], env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
        health = f"http://127.0.0.1:{self.notify_port}/health"
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the sales bot exited at start: {log.read_text(errors='replace')[-2000:]}")
                try:
                    if (await client.get(health)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"the sales bot did not answer /health within {timeout:.0f} s")

    def kill(self) -> None:
        """SIGKILL: no cleanup, exactly what a crash or the OOM killer does."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        """SIGTERM and wait for the graceful stop."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_text(self) -> str:
        """Everything every incarnation logged."""
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())
