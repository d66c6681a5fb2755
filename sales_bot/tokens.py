"""Where a buyer's bot token lives between the moment we get it and activation: never in Redis or PostgreSQL.

- A **managed** bot (the one-tap way) needs no storage at all: the sales bot manages it, so
  ``getManagedBotToken`` returns its current token at any time, also after a restart or a rotation.
- A **pasted** token is written to Vault the moment it arrives, under the order's tenant
  (``secret/data/tenants/<tenant_id>/pending``), with the activator's own policy, which allows reading it
  back only response-wrapped; activation reads it wrapped and unwraps it after checking the creation path,
  exactly as a slot receives its tenant package. A restart at any step loses nothing: the order row says
  which way the bot came and Vault or Telegram has the token.

The token is only ever held in memory for the one call that needs it, as a ``SecretStr``.
"""

from __future__ import annotations

import asyncio

import hvac
from aiogram import Bot
from pydantic import SecretStr

from botpool.clients import vault as vault_client
from botpool.commerce.orders import Order
from botpool.tenancy.package import pending_path

__all__ = ["BotTokens", "pending_path"]


class BotTokens:
    """Keeps pasted tokens in Vault and fetches managed bots' tokens from Telegram."""

    def __init__(self, vault: hvac.Client, kv_mount: str, sales_bot: Bot) -> None:
        """Use the activator's Vault client and the sales bot (the manager of one-tap bots)."""
        self.vault = vault
        self.kv_mount = kv_mount
        self.sales_bot = sales_bot

    async def keep(self, tenant_id: str, token: SecretStr) -> None:
        """Store a pasted token for the order's tenant (durable before the buyer is asked anything else)."""
        await asyncio.to_thread(
            vault_client.write_kv, self.vault, self.kv_mount, pending_path(tenant_id),
            {"bot_token": token.get_secret_value()},
        )

    async def token_for(self, order: Order) -> SecretStr:
        """The order's bot token now: from Telegram for a managed bot, from Vault for a pasted one."""
        if order.bot_source == "managed":
            assert order.bot_id is not None
            return SecretStr(await self.sales_bot.get_managed_bot_token(user_id=order.bot_id))
        return SecretStr(await asyncio.to_thread(self._read_pending, order.tenant_id))

    def _read_pending(self, tenant_id: str) -> str:
        path = pending_path(tenant_id)
        wrapped = vault_client.read_wrapped(self.vault, self.kv_mount, path, ttl_s=60)
        expected = vault_client.kv_data_path(self.kv_mount, path)
        data = vault_client.unwrap_verified(str(self.vault.url), wrapped.token, expected)
        return str(data["bot_token"])
