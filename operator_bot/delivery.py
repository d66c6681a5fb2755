"""Sending an alert to every admin exactly once, remembered durably in Consul KV.

Each (alert, admin) pair gets a marker key under ``botpool/operator-bot/sent/``, created with
check-and-set (``cas=0``) before the message goes out: Alertmanager's repeats, a second webhook for the
same alert, a restart of the bot, or a second replica all find the marker and send nothing. If the
message cannot be sent because Telegram is unreachable, the marker is removed again so the next
attempt (Alertmanager retries a failed webhook; the Consul watch reads again) delivers it. An admin
who blocked the bot, or never opened a chat with it (Telegram lets a bot write only to people who
have), keeps the marker: retrying would fail forever. Each admin must send the bot /start once.

Consul rather than Redis: it is the one store this process writes anyway (the scale-in fences), its KV
is replicated and durable, and the bot's Consul policy can name exactly this prefix as its only
writable key tree besides those.
"""

from __future__ import annotations

import hashlib

import structlog
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramRetryAfter
from consul.aio import Consul

from botpool.errors import DependencyUnavailable
from botpool.i18n import fit
from botpool.logs import redact
from botpool.pool import keys

log = structlog.get_logger("operator_bot.delivery")

#: Where the bot remembers what it has delivered (its Consul policy may write here).
SENT = keys.ROOT + "operator-bot/sent/"


def marker(event: str, admin_id: int) -> str:
    """The key remembering that ``event`` reached ``admin_id``; long or odd ids are hashed to a safe name."""
    safe = event if event.replace("-", "").replace("_", "").isalnum() and len(event) <= 120 else (
        "h-" + hashlib.sha256(event.encode()).hexdigest()[:40])
    return f"{SENT}{safe}/{admin_id}"


class Notifier:
    """Pushes texts to the admins, each event at most once per admin."""

    def __init__(self, bot: Bot, consul: Consul, admins: frozenset[int]) -> None:
        """Remember the bot to send with, where markers live and whom to tell."""
        self.bot = bot
        self.consul = consul
        self.admins = admins

    async def push(self, event: str, text: str) -> int:
        """Send ``text`` to every admin not yet told about ``event``; how many were told now.

        Raises ``DependencyUnavailable`` when Telegram could not be reached for some admin (after the
        others were told), so the caller reports a failure and the event is offered again later.
        """
        told, unreachable = 0, False
        for admin in sorted(self.admins):
            key = marker(event, admin)
            if not await self.consul.kv.put(key, "1", cas=0):
                continue  # told before
            try:
                await self.bot.send_message(admin, fit(text))
                told += 1
            except (TelegramNetworkError, TelegramRetryAfter) as exc:
                await self.consul.kv.delete(key, cas=None)
                log.warning("alert not delivered; will retry", alert=event, admin=admin, error=type(exc).__name__)
                unreachable = True
            except TelegramAPIError as exc:
                log.warning("alert refused by Telegram; not retried", alert=event, admin=admin,
                            error=type(exc).__name__, detail=redact(str(exc))[:200])
        if told:
            log.info("alert delivered", alert=event, admins=told)
        if unreachable:
            raise DependencyUnavailable("Telegram unreachable while pushing an alert")
        return told
