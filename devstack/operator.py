"""The operator bot on the local stack (``prepare``, ``wait_healthy``), as a child process for tests
(``OperatorProcess``), and its read-only database role.

The bot reads two tables of the control schema and writes none, so it gets a PostgreSQL role of its own
that may only connect and ``SELECT`` from ``control.tenants`` and ``control.orders`` (``readonly_dsn``), beside its own
Consul and Nomad tokens (role ``operator-bot``: ``stack.role_env``) and no Vault token or Redis URL.

``botpool up`` calls ``prepare`` and submits ``jobs/operator-bot.nomad.hcl`` like the sales bot: the
non-secret settings as job variables, and only the path of the secret ones (the bot token, the admins,
the read-only DSN, the bot's Nomad token), written to ``<root>/operator-bot.env`` with owner-only
permissions. Its Consul token comes from the task's workload identity, as the sales bot's does.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

from botpool.errors import ConfigurationError, DependencyUnavailable
from botpool.tenancy import store
from devstack import ports
from devstack.stack import Stack
from devstack.standins.telegram.client import TelegramControl

ROOT = Path(__file__).resolve().parent.parent
#: The PostgreSQL role of the operator bot.
DB_ROLE = "botpool_operator_bot"
#: The local operator bot's username in the Telegram stand-in.
OPERATOR_BOT_USERNAME = "botpool_operator_bot"
#: The stand-in's demo operator: the one admin of a local stack unless ``BOTPOOL_OPERATOR_ADMINS`` names others.
#: A fixed id outside the ranges the demo's buyers (5 000 000 and up) and the tests use, so a developer can
#: write to the bot as this user through the stand-in's control API and get the alerts.
DEMO_OPERATOR_ID = 4_000_001
#: The variable ``botpool up`` reads the admins from (comma-separated Telegram user ids).
ADMINS_VARIABLE = "BOTPOOL_OPERATOR_ADMINS"
#: The port label in the stack's state, and the port a human-run stack prefers (the bot's default).
PORT_LABEL = "operator_webhook"
PREFERRED_PORT = 8091


@dataclass(frozen=True)
class OperatorDeployment:
    """What the job is submitted with: plain settings, the secrets file and its digest, the webhook port."""

    env: dict[str, str]
    env_file: Path
    #: Changes whenever the secrets file's content does, so resubmitting the job restarts the bot with it.
    secrets_version: str
    webhook_port: int
    username: str

    @property
    def base_url(self) -> str:
        """Where the bot's HTTP endpoint answers on this machine."""
        return f"http://127.0.0.1:{self.webhook_port}"

    @property
    def alertmanager_url(self) -> str:
        """What Alertmanager posts to (``operator_webhook_url`` of the monitoring job)."""
        return f"{self.base_url}/alertmanager"


def parse_admins(value: str) -> str:
    """Normalise "123, 456" to "123,456"; refuse anything else in one sentence, before anything is written.

    The bot refuses a bad list at its start too, but then only its allocation's log would say why.
    """
    ids = [part.strip() for part in value.split(",") if part.strip()]
    if not ids or not all(i.isascii() and i.isdecimal() and int(i) > 0 for i in ids):
        raise ConfigurationError(
            f"{ADMINS_VARIABLE} must be comma-separated Telegram user ids (positive integers), got {value!r}"
        )
    return ",".join(sorted(set(ids), key=int))


def webhook_port(stack: Stack, *, random_ports: bool = False) -> int:
    """Pick (once) and remember the webhook's port, never one the stack already uses."""
    state = stack.state
    if PORT_LABEL not in state.ports:
        state.ports[PORT_LABEL] = ports.pick(
            None if random_ports else PREFERRED_PORT, taken=set(state.ports.values())
        )
        state.save()
    return state.ports[PORT_LABEL]


async def prepare(
    stack: Stack,
    *,
    admins: str | None = None,
    telegram_api_base: str | None = None,
    random_ports: bool = False,
) -> OperatorDeployment:
    """Create (idempotently) the operator bot in the stand-in, its database role, and write its secrets file.

    ``admins`` defaults to ``DEMO_OPERATOR_ID``; ``telegram_api_base`` to the stack's own stand-in.
    The database password is the stack's remembered secret, so a running bot keeps working across ``up``.
    """
    admin_ids = parse_admins(admins) if admins is not None else str(DEMO_OPERATOR_ID)
    telegram = telegram_api_base or f"http://127.0.0.1:{stack.state.ports['telegram']}"
    async with TelegramControl(telegram) as control:
        bot = await control.create_bot(OPERATOR_BOT_USERNAME, first_name="botpool operator")
    role_env = stack.role_env("operator-bot")
    admin_dsn = stack.env()["BOTPOOL_DATABASE_URL"]
    conn = await asyncpg.connect(admin_dsn)
    try:
        await store.migrate(conn)  # the control schema the role is granted on (idempotent)
    finally:
        await conn.close()
    password = stack.state.secret("operator_bot_db_password")
    stack.state.save()
    secret_values = {
        "OPERATOR_BOT_TOKEN": bot.token,
        "OPERATOR_ADMINS": admin_ids,
        "BOTPOOL_DATABASE_URL": await readonly_dsn(admin_dsn, password=password),
        "NOMAD_TOKEN": role_env["NOMAD_TOKEN"],
    }
    text = "".join(f"{k}={v}\n" for k, v in secret_values.items())
    path = stack.root / "operator-bot.env"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    env = {
        "CONSUL_HTTP_ADDR": role_env["CONSUL_HTTP_ADDR"],
        "NOMAD_ADDR": role_env["NOMAD_ADDR"],
        "TELEGRAM_API_BASE": telegram,
    }
    version = hashlib.sha256(text.encode()).hexdigest()[:16]
    return OperatorDeployment(env, path, version, webhook_port(stack, random_ports=random_ports), OPERATOR_BOT_USERNAME)


async def wait_healthy(deployment: OperatorDeployment, *, timeout_s: float = 120.0) -> None:
    """Wait until the bot Nomad runs answers ``/health`` (it then polls Telegram and takes Alertmanager's posts)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while True:
            try:
                if (await client.get(f"{deployment.base_url}/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise DependencyUnavailable(
                    f"the operator bot did not answer at {deployment.base_url}/health within {timeout_s:.0f} s; "
                    "see `nomad alloc logs -job operator-bot`"
                )
            await asyncio.sleep(0.5)


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
            # The activator's prepare_database revokes CONNECT from PUBLIC, so the role needs it by name.
            database = await conn.fetchval("SELECT quote_ident(current_database())")
            await conn.execute(f"GRANT CONNECT ON DATABASE {database} TO {DB_ROLE}")
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
