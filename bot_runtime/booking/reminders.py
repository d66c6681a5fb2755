"""The reminder worker: sends due reminders and queued messages from the tenant's schema.

Why database-driven: a reminder planned today for tomorrow must survive the
bot restarting or moving to another slot, and must not go out twice when two
processes briefly run the same tenant. Rows are claimed one at a time with
``FOR UPDATE SKIP LOCKED``, sent, and marked in the same transaction; a
parallel worker skips the locked row and afterwards sees it marked. (Only a
crash between Telegram accepting the message and the commit could repeat
one; Telegram offers no idempotency key to close that window.) The worker
also deletes expired slot holds and delivers the outbox (owner alerts,
broadcasts) that a handler could not deliver itself.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import structlog
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup

from bot_runtime.booking.clock import Clock
from bot_runtime.booking.config import BookingConfig
from bot_runtime.booking.keyboards import alert_markup, rating
from bot_runtime.booking.perf import pin_response_models
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.storage import bookings, clients, outbox
from bot_runtime.booking.storage.outbox import ClaimedReminder
from bot_runtime.booking.storage.types import Tx
from bot_runtime.booking.texts import fit

log = structlog.get_logger("botpool.booking.reminders")

#: A "before" reminder that could not go out before the visit began is skipped, not sent late.
#: Rating requests older than this are skipped too (a week-old "how was it?" only irritates).
RATING_MAX_DELAY_DAYS = 3


class ReminderWorker:
    """Runs next to polling; ``run_once`` is the unit tests drive with a moved clock."""

    def __init__(
        self,
        *,
        bot: Bot,
        db: asyncpg.Pool,
        config: BookingConfig,
        clock: Clock | None = None,
        interval: float = 5.0,
        batch: int = 50,
    ) -> None:
        """Bind to the tenant; ``interval`` seconds between rounds, at most ``batch`` sends per kind per round."""
        pin_response_models()
        self.bot = bot
        self.service = BookingService(pool=db, config=config, clock=clock, alert_buttons=alert_markup)
        self.interval = interval
        self.batch = batch

    async def run(self, stop: asyncio.Event) -> None:
        """Work in rounds until ``stop`` is set; a failing round is logged and retried next time."""
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            sent = 0
            try:
                sent = await self.run_once()
            except Exception as exc:  # the worker must outlive any one bad round (database restart, bug)
                log.warning("reminder round failed", tenant_id=self.service.config.tenant_id, error=type(exc).__name__)
            # A full batch means more is waiting (a broadcast): go on at about 25 messages a second,
            # under Telegram's limit; otherwise wait for the next round.
            pause = max(0.0, sent / 25 - (loop.time() - started)) if sent >= self.batch else self.interval
            with contextlib.suppress(TimeoutError):  # asyncio.timeout: wait_for may swallow a cancel on 3.11
                async with asyncio.timeout(pause):
                    await stop.wait()

    async def run_once(self) -> int:
        """Send everything due now; return how many messages went out."""
        now = self.service.now()
        await bookings.cleanup_holds(self.service.pool, now)
        sent = 0
        for _ in range(self.batch):
            outcome = await self._one_reminder()
            if outcome is None:
                break
            sent += outcome
        sent += await self.service.deliver(self.bot, None, limit=self.batch)
        return sent

    async def _one_reminder(self) -> int | None:
        """Claim, send and mark one due reminder; None when nothing is due or Telegram said wait."""
        service = self.service
        try:
            async with service.pool.acquire() as conn, conn.transaction():
                now = service.now()
                reminder = await outbox.claim_reminder(conn, now)
                if reminder is None:
                    return None
                try:
                    outcome = await self._deliver(conn, reminder)
                except (TelegramRetryAfter, TelegramNetworkError, TelegramServerError):
                    raise
                except Exception:  # a reminder that cannot be rendered must not block the queue forever
                    log.exception("reminder failed for good", reminder_id=reminder.id)
                    outcome = "failed"
                await outbox.mark_reminder(conn, reminder.id, outcome, now)
                return int(outcome == "sent")
        except (TelegramRetryAfter, TelegramNetworkError, TelegramServerError) as exc:
            log.info("reminders postponed", error=type(exc).__name__)
            return None

    async def _deliver(self, conn: Tx, reminder: ClaimedReminder) -> str:
        """Send one reminder if it still makes sense; return its outcome."""
        service = self.service
        now = service.now()
        if reminder.chat_id is None or reminder.status != "confirmed":
            return "skipped"
        if reminder.kind == "before" and now >= reminder.starts_at:
            return "skipped"
        if reminder.kind == "rating" and (
            reminder.rating is not None or (now - reminder.due_at).days >= RATING_MAX_DELAY_DAYS
        ):
            return "skipped"
        tr = service.tr_for(reminder.language)
        values = {
            "when": tr.when(reminder.starts_at, service.tz),
            "title": reminder.title,
            "master": reminder.master_name,
            "company": service.config.company_name,
        }
        markup = None
        if reminder.kind == "before":
            text = tr("reminder", **values)
        else:
            text = tr("rate_ask", **values)
            markup = InlineKeyboardMarkup.model_validate(rating(reminder.booking_id))
        try:
            await self.bot.send_message(reminder.chat_id, fit(text), parse_mode="HTML", reply_markup=markup)
        except TelegramForbiddenError:
            await clients.mark_blocked_bot(conn, reminder.chat_id)
            return "failed"
        except TelegramBadRequest as exc:
            log.warning("reminder refused", reminder_id=reminder.id, reason=exc.message)
            return "failed"
        return "sent"
