"""Reminding owners that their bot's paid period ends soon, with a button to renew it.

The sales bot is the bot owners bought from, so it is the one that reminds them. The reminders are an
outbox in the control schema (``botpool.commerce.subscriptions``): every replica may run ``run_once``,
and each reminder is claimed by one of them, sent, and stamped, so it reaches the owner once; a failed
send gives the claim back for the next pass, and an owner who blocked the bot (or never wrote to it) is
not retried. ``now`` is
a parameter (the clock a test moves); the process passes the real time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import UTC, datetime

import structlog
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError

from botpool.commerce.subscriptions import Reminder, Subscriptions
from botpool.i18n import N_
from botpool.logs import redact
from sales_bot import keyboards
from sales_bot.texts import tr_for

log = structlog.get_logger("sales_bot.reminders")

#: The text of each reminder kind.
TEXTS = {"3d": N_("reminder_3d"), "1d": N_("reminder_1d")}


def utc_now() -> datetime:
    """The real time, aware in UTC: the process's clock."""
    return datetime.now(UTC)


class OwnerReminders:
    """Sends the reminders the outbox owes at a given moment."""

    def __init__(self, subscriptions: Subscriptions, bot: Bot, clock: Callable[[], datetime] = utc_now) -> None:
        """Send through ``bot`` (the sales bot); ``clock`` tells the loop what time it is."""
        self.subscriptions = subscriptions
        self.bot = bot
        self.clock = clock

    async def run_once(self, now: datetime) -> int:
        """Write what is owed at ``now``, then send every reminder this pass claims; how many were sent."""
        await self.subscriptions.due(now)
        sent = 0
        for reminder in await self.subscriptions.claim(now):
            sent += await self._send(reminder, now)
        return sent

    async def _send(self, reminder: Reminder, now: datetime) -> int:
        tenant = await self.subscriptions.tenant(reminder.tenant_id)
        if tenant is None:
            return 0
        tr = tr_for(tenant.language)
        text = tr(TEXTS[reminder.kind], username=tenant.bot_username or "", company=tenant.company_name,
                  until=tr.date(reminder.paid_until, tenant.timezone))
        try:
            await self.bot.send_message(reminder.recipient, text, reply_markup=keyboards.renew(tr, tenant.tenant_id))
        except TelegramForbiddenError:
            log.warning("owner blocked the sales bot; reminder not delivered", tenant_id=tenant.tenant_id,
                        kind=reminder.kind)
            await self.subscriptions.sent(reminder, now, outcome="blocked")
            return 0
        except TelegramBadRequest as exc:  # "chat not found": it would fail the same way every minute
            log.warning("owner cannot be written to; reminder not delivered", tenant_id=tenant.tenant_id,
                        kind=reminder.kind, error=redact(str(exc))[:120])
            await self.subscriptions.sent(reminder, now, outcome="undeliverable")
            return 0
        except Exception as exc:
            log.warning("reminder not sent; will retry", tenant_id=tenant.tenant_id, kind=reminder.kind,
                        error=type(exc).__name__)
            await self.subscriptions.unclaim(reminder)
            return 0
        await self.subscriptions.sent(reminder, now)
        log.info("owner reminded", tenant_id=tenant.tenant_id, kind=reminder.kind)
        return 1

    async def run(self, stop: asyncio.Event, interval_s: float) -> None:
        """Run a pass every ``interval_s`` until ``stop``; a failing pass is logged and retried."""
        while not stop.is_set():
            try:
                await self.run_once(self.clock())
            except Exception:
                log.exception("reminder pass failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
