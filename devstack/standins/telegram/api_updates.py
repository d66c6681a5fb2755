"""Bot API methods that choose how updates reach a bot: the ``getUpdates`` long poll and the webhook.

``getUpdates`` is a true long poll that returns the moment an update is queued; as on Telegram a newer
poll ends an older one with 409, a webhook makes polling a 409, and a revoked token ends a held poll
with 401. ``setWebhook``/``deleteWebhook`` switch the bot between polling and push delivery.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from devstack.standins.telegram import webhooks
from devstack.standins.telegram.api_params import Described, Handler, Params
from devstack.standins.telegram.errors import BotApiError, bad_request
from devstack.standins.telegram.records import BotRecord
from devstack.standins.telegram.state import World
from devstack.standins.telegram.updates import confirm_updates, peek_updates
from devstack.standins.telegram.webhooks import WebhookDelivery

_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_MAX_POLL_TIMEOUT = 120
_CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
_CONFLICT_POLL = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"


class UpdateMethods:
    """``getUpdates``, ``setWebhook``, ``deleteWebhook`` and ``getWebhookInfo``."""

    def __init__(self, world: World, delivery: WebhookDelivery) -> None:
        """Bind to the world and to the webhook sender that a changed webhook restarts."""
        self.world = world
        self.delivery = delivery

    def handlers(self) -> dict[str, Handler]:
        """The methods by their Bot API names."""
        return {
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
        }

    async def get_updates(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``getUpdates``: a true long poll that returns as soon as an update is queued.

        A newer getUpdates for the same bot ends an older one with 409, as Telegram does when two
        instances poll one token; revoking the token ends it with 401.
        """
        if bot.webhook_url:
            raise BotApiError(409, _CONFLICT_WEBHOOK)
        offset = params.get_int("offset")
        limit = min(max(params.get_int("limit") or 100, 1), 100)
        timeout = min(max(params.get_int("timeout") or 0, 0), _MAX_POLL_TIMEOUT)
        if params.has("allowed_updates"):
            allowed = params.get_json("allowed_updates")
            if not isinstance(allowed, list):
                raise bad_request("can't parse allowed_updates JSON object")
            bot.allowed_updates = [str(kind) for kind in allowed]
        confirm_updates(bot, offset)
        bot.poll_generation += 1
        generation = bot.poll_generation
        bot.updates.notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        bot.active_polls += 1
        bot.last_poll_at = self.world.clock()
        self.world.changed.notify()
        try:
            while True:
                if self.world.bot_by_token(token) is not bot:
                    raise BotApiError(401, "Unauthorized")
                if bot.poll_generation != generation:
                    bot.poll_conflicts += 1
                    raise BotApiError(409, _CONFLICT_POLL)
                if bot.webhook_url:
                    raise BotApiError(409, _CONFLICT_WEBHOOK)
                updates = peek_updates(bot, limit)
                remaining = deadline - loop.time()
                if updates or remaining <= 0 or self.world.closing:
                    return updates
                await bot.updates.wait(remaining)
        finally:
            bot.active_polls -= 1
            bot.last_poll_at = self.world.clock()

    async def set_webhook(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``setWebhook``: switch to push delivery; plain http is allowed here for loopback receivers."""
        url = params.get_str("url") or ""
        if url and not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get_str("secret_token")
        if secret is not None and not _SECRET_TOKEN.match(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = params.get_int("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = params.get_json("allowed_updates") if params.has("allowed_updates") else None
        if allowed is not None and not isinstance(allowed, list):
            raise bad_request("can't parse allowed_updates JSON object")
        webhooks.set_webhook(
            bot,
            url=url,
            secret=secret,
            max_connections=max_connections,
            allowed_updates=[str(kind) for kind in allowed] if allowed is not None else None,
            drop_pending=params.get_bool("drop_pending_updates"),
        )
        self.delivery.restart(bot)
        return Described(True, "Webhook was set" if url else "Webhook was deleted")

    async def delete_webhook(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``deleteWebhook``: return to getUpdates, optionally dropping pending updates."""
        had_webhook = bool(bot.webhook_url)
        webhooks.set_webhook(
            bot,
            url="",
            secret=None,
            max_connections=bot.webhook_max_connections,
            allowed_updates=None,
            drop_pending=params.get_bool("drop_pending_updates"),
        )
        self.delivery.restart(bot)
        return Described(True, "Webhook was deleted" if had_webhook else "Webhook is already deleted")

    async def get_webhook_info(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``getWebhookInfo``: current URL, pending count and the last delivery error."""
        return webhooks.webhook_info(bot)
