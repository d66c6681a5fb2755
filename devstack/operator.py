"""The operator bot as a child process for tests (``OperatorProcess``), and its read-only database role.

The bot reads two tables of the control schema and writes none, so it gets a PostgreSQL role of its own
that may only ``SELECT`` from ``control.tenants`` and ``control.orders`` (``readonly_dsn``), beside its own
Consul and Nomad tokens (role ``operator-bot``: ``stack.role_env``) and no Vault token or Redis URL.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
#: The PostgreSQL role of the operator bot.
DB_ROLE = "botpool_operator_bot"


async def readonly_dsn(admin_dsn: str, *, password: str | None = None) -> str:
    """Create (or update) the bot's role with ``SELECT`` on the two tables it reads; return its DSN.

    Idempotent: an existing role gets the new password and the same grants. The control schema must
    exist (any service's start creates it).
    """
    password = password or secrets.token_urlsafe(24)
    conn = await asyncpg.connect(admin_dsn)
    try:
        async with conn.transaction():
            exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", DB_ROLE)
            verb = "ALTER" if exists else "CREATE"
            literal = await conn.fetchval("SELECT quote_literal($1)", password)
            await conn.execute(f"{verb} ROLE {DB_ROLE} LOGIN PASSWORD {literal}")
            await conn.execute(f"GRANT USAGE ON SCHEMA control TO {DB_ROLE}")
            await conn.execute(f"GRANT SELECT ON control.tenants, control.orders TO {DB_ROLE}")
    finally:
        await conn.close()
    parts = urlsplit(admin_dsn)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{DB_ROLE}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class OperatorProcess:
    """The operator bot as a child process: start (until its webhook answers /health), stop.

    ``env`` is its whole environment (secrets included: a child's environment is not argv). Each start
    writes a new log file in ``log_dir``.
    """

    def __init__(self, env: dict[str, str], log_dir: Path, webhook_port: int) -> None:
        """Remember how to start it; nothing runs yet."""
        self.env = env
        self.log_dir = log_dir
        self.webhook_port = webhook_port
        self.logs: list[Path] = []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def alertmanager_url(self) -> str:
        """Where Alertmanager's webhook goes."""
        return f"http://127.0.0.1:{self.webhook_port}/alertmanager"

    async def start(self, *, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        """Start a new process and wait until its endpoint answers /health (it then polls Telegram)."""
        log = self.log_dir / f"operator-bot-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            self.proc = subprocess.Popen(  # noqa: ASYNC220 - a long-lived child, not awaited
                [sys.executable, "-m", "operator_bot"], env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
        health = f"http://127.0.0.1:{self.webhook_port}/health"
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the operator bot exited at start: {log.read_text(errors='replace')[-2000:]}")
                try:
                    if (await client.get(health)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
        raise TimeoutError(f"the operator bot did not answer /health within {timeout:.0f} s")

    def stop(self) -> None:
        """SIGTERM and wait for the graceful stop (SIGKILL after 40 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_text(self) -> str:
        """Everything every incarnation logged."""
        return "\n".join(p.read_text(errors="replace") for p in self.logs if p.exists())
