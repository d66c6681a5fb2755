"""The local sales bot: created in the Telegram stand-in with bot management on, its secrets in a file.

``botpool up`` calls ``prepare`` and submits ``jobs/sales-bot.nomad.hcl`` with the non-secret settings
as job variables and only the path of the secret ones (the bot token, the YooKassa key, the database
and Redis URLs, a Vault token with the activator policy), written to ``<root>/sales-bot.env`` with
owner-only permissions: secrets stay out of the job spec, Consul and argv, as in production where the
job's template reads them from Vault.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import hvac

from devstack.services import YooKassaStandin
from devstack.stack import Stack
from devstack.standins.telegram.client import TelegramControl

#: The local sales bot's username in the stand-in.
SALES_BOT_USERNAME = "botpool_sales_bot"
POLICY = Path(__file__).resolve().parent.parent / "vault-policies" / "botpool-activator.hcl"


@dataclass(frozen=True)
class SalesDeployment:
    """What the job is submitted with: plain settings, the secrets file and the notification port."""

    env: dict[str, str]
    env_file: Path
    notify_port: int
    username: str


def _activator_token(stack: Stack) -> str:
    """A Vault token with only the activator policy (as in production), created once per local stack."""
    control = stack.env()
    root = hvac.Client(url=control["VAULT_ADDR"], token=control["VAULT_TOKEN"])
    root.sys.create_or_update_policy("botpool-activator", POLICY.read_text())
    token: str = root.auth.token.create(policies=["botpool-activator"], ttl="720h", renewable=True)["auth"][
        "client_token"
    ]
    return token


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
        "VAULT_TOKEN": _activator_token(stack),
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
