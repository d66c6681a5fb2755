"""The sales bot's share of answering a stolen handoff: what only the manager of the bots can do.

``botpool.tenancy.rotation`` records each theft and rotates the passwords from any activator. Two
steps need this process: a managed bot's new token (``replaceManagedBotToken`` takes the manager's
token, which only the sales bot holds) and telling a pasted token's owner, in the chat where they
bought the bot, to revoke it in BotFather. Both run from the order watch, which already tells
buyers what happened to their order, so a theft noticed by the reconciler while the sales bot was
down is answered when it is back.
"""

from __future__ import annotations

import structlog
from aiogram import Bot
from aiogram.exceptions import TelegramForbiddenError

from botpool.commerce.orders import OrderStore
from botpool.i18n import N_
from botpool.tenancy import rotation
from botpool.tenancy.activation import Activator
from sales_bot.texts import tr_for

log = structlog.get_logger("sales_bot.theft")

_REVOKE = N_("token_stolen_revoke")


class TheftFollowUp:
    """Replaces stolen managed-bot tokens and tells pasted-token owners; one per sales bot process."""

    def __init__(self, *, activator: Activator, orders: OrderStore, bot: Bot) -> None:
        """Use the process's activator (Vault, database, Redis), its orders and the sales bot itself."""
        self.activator = activator
        self.orders = orders
        self.bot = bot

    async def run_once(self) -> None:
        """Do what is pending: new tokens first (the tenant waits for them), then the owners' notices."""
        await rotation.rotate_managed_tokens(self.activator, self._replace)
        for theft in await rotation.claim_owner_notices(self.activator.db):
            await self._tell_owner(theft)

    async def _replace(self, bot_id: int) -> str:
        return await self.bot.replace_managed_bot_token(user_id=bot_id)

    async def _tell_owner(self, theft: rotation.Rotation) -> None:
        order = await self.orders.get(theft.order_id or "")
        if order is None:
            return
        tr = tr_for(order.language)
        try:
            await self.bot.send_message(order.buyer_telegram_id, tr(_REVOKE, username=order.bot_username or ""))
        except TelegramForbiddenError:
            log.warning("buyer blocked the sales bot; revoke notice not delivered", order_id=order.order_id)
        except Exception as exc:
            log.warning("revoke notice not sent; will retry", order_id=order.order_id, error=type(exc).__name__)
            await rotation.unclaim_owner_notice(self.activator.db, theft)
            return
        log.warning("owner told to revoke a stolen bot token", order_id=order.order_id, tenant_id=theft.tenant_id)
