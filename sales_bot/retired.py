"""A deleted tenant's managed bot: its token replaced so the old one stops working for anyone.

When a tenant is deleted after its retention period (the reconciler; ``botpool.tenancy.store``), a bot
the sales bot created for the buyer (a managed bot) still answers to its old token, which every slot
that served it once unwrapped. ``replaceManagedBotToken`` revokes it; only the manager of the bot, this
process, can call it, so it runs here, from the order watch, for every deletion not yet followed up.
The new token is not kept: nothing is to run that bot any more. Each deletion is claimed once
(``managed_token_revoked_at``), given back if Telegram could not be reached, and stamped done when
Telegram says the bot is no longer ours to manage (nothing left to revoke).
"""

from __future__ import annotations

import asyncpg
import structlog
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError

from botpool.db.migrations import quote_ident
from botpool.tenancy import store as tenancy_store

log = structlog.get_logger("sales_bot.retired")
SCHEMA = quote_ident(tenancy_store.SCHEMA)


class RetiredBots:
    """Revokes the tokens of deleted tenants' managed bots; one per sales bot process."""

    def __init__(self, db: asyncpg.Pool, bot: Bot) -> None:
        """Use the control database and the sales bot (the manager of the bots it created)."""
        self.db = db
        self.bot = bot

    async def run_once(self) -> int:
        """Revoke what is pending; how many tokens were replaced."""
        rows = await self.db.fetch(
            f"""
            UPDATE {SCHEMA}.tenant_deletions d SET managed_token_revoked_at = now()
            FROM {SCHEMA}.tenants t, {SCHEMA}.orders o
            WHERE d.managed_token_revoked_at IS NULL AND t.tenant_id = d.tenant_id
                  AND o.tenant_id = d.tenant_id AND o.kind = 'new' AND o.bot_source = 'managed'
            RETURNING d.tenant_id, t.bot_id
            """
        )
        replaced = 0
        for row in rows:
            try:
                await self.bot.replace_managed_bot_token(user_id=row["bot_id"])
            except (TelegramBadRequest, TelegramForbiddenError) as exc:
                log.warning("deleted tenant's bot is no longer managed by us; nothing to revoke",
                            tenant_id=row["tenant_id"], error=type(exc).__name__)
                continue
            except Exception as exc:
                log.warning("could not revoke a deleted tenant's bot token; will retry", tenant_id=row["tenant_id"],
                            error=type(exc).__name__)
                await self.db.execute(
                    f"UPDATE {SCHEMA}.tenant_deletions SET managed_token_revoked_at = NULL WHERE tenant_id = $1",
                    row["tenant_id"],
                )
                continue
            replaced += 1
            log.info("deleted tenant's bot token revoked", tenant_id=row["tenant_id"])
        return replaced
