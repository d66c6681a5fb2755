"""The outbox: alerts to admins and notices to clients queued inside a use case, delivered after the commit.

Why an outbox: the message is recorded in the same transaction as the change
it reports, so a crash between the two loses neither; delivery claims each
row with SKIP LOCKED so a message goes out once even with two workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

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

from bot_runtime.booking.service.base import ServiceBase
from bot_runtime.booking.storage import clients, outbox
from bot_runtime.booking.storage.bookings import Booking
from bot_runtime.booking.storage.outbox import OutMessage
from bot_runtime.booking.storage.types import Tx
from bot_runtime.booking.texts import Html, Tr, esc, fit

log = structlog.get_logger("botpool.booking")

#: Deliver at most this many queued messages inline after a use case; the worker sends the rest.
INLINE_DELIVERY = 10


class _Retry(Exception):
    """Telegram asked us to slow down or was unreachable: leave the message for a later try."""


class Messages(ServiceBase):
    """Queueing and delivering the messages use cases cause."""

    async def admin_recipients(self, conn: Tx, *, exclude: int | None = None) -> list[tuple[int, Tr]]:
        """Return every admin (owner first) with their language, except ``exclude``."""
        found = await clients.admins_with_languages(conn, self.config.admin_telegram_id)
        return [(i, self.tr_for(lang)) for i, lang in found if i != exclude]

    async def alert_admins(
        self,
        conn: Tx,
        key: str,
        booking: Booking,
        *,
        approval: bool = False,
        exclude: int | None = None,
        old_when: datetime | None = None,
        admin: str | None = None,
    ) -> list[int]:
        """Queue an alert about ``booking`` to every admin in their language; return outbox ids."""
        messages = []
        for chat_id, tr in await self.admin_recipients(conn, exclude=exclude):
            values = self.booking_values(tr, booking)
            if old_when is not None:
                values["old"] = tr.when(old_when, self.tz)
                values["new"] = values["when"]
            if admin is not None:
                values["admin"] = admin
            messages.append(
                OutMessage(chat_id, fit(tr(key, **values)), self.alert_buttons(tr, booking.id, approval=approval))
            )
        return await outbox.enqueue(conn, messages)

    async def notify_client(self, conn: Tx, booking: Booking, key: str) -> list[int]:
        """Queue a notice to the booking's client, if they use the bot; return outbox ids."""
        if booking.client_telegram_id is None:
            return []
        tr = self.tr_for(booking.client_language)
        return await outbox.enqueue(
            conn, [OutMessage(booking.client_telegram_id, fit(tr(key, **self.booking_values(tr, booking))))]
        )

    async def broadcast(self, text: str) -> int:
        """Queue a broadcast to every client; the worker delivers it at Telegram's pace."""
        tr = self.tr_for(None)
        body = fit(tr("broadcast_header", company=self.config.company_name, text=Html(esc(text))))
        return await outbox.enqueue_broadcast(self.pool, body)

    async def deliver(self, bot: Bot, ids: Sequence[int] | None = None, *, limit: int = INLINE_DELIVERY) -> int:
        """Send queued messages (the given ids, or the oldest ones) exactly once each; return how many.

        Each message is claimed with SKIP LOCKED, sent and marked in one
        transaction, so a concurrent worker never sends it too. Telegram's
        flood control or a network failure stops the batch and leaves the rest
        for the worker's next round.
        """
        sent = 0
        targets: list[int | None] = list(ids[:limit]) if ids is not None else [None] * limit
        for target in targets:
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    message = await outbox.claim_message(conn, target)
                    if message is None:
                        if target is None:
                            break
                        continue
                    try:
                        outcome = await self._send(bot, conn, message.chat_id, message.text, message.markup)
                    except _Retry:
                        raise
                    except Exception:  # a message that cannot be sent must not block the queue forever
                        log.exception("outbox message failed for good", message_id=message.id)
                        outcome = "failed"
                    await outbox.mark_message(conn, message.id, outcome, self.now())
                    sent += outcome == "sent"
            except _Retry:
                break
        return sent

    async def _send(self, bot: Bot, conn: Tx, chat_id: int, text: str, markup: dict[str, Any] | None) -> str:
        """Send one message; return "sent" or "failed" (for good), raise ``_Retry`` to try later."""
        try:
            await bot.send_message(
                chat_id,
                text,
                parse_mode="HTML",
                reply_markup=InlineKeyboardMarkup.model_validate(markup) if markup else None,
            )
        except TelegramForbiddenError:
            await clients.mark_blocked_bot(conn, chat_id)
            return "failed"
        except TelegramBadRequest as exc:
            log.warning("message refused", chat_id=chat_id, reason=exc.message)
            return "failed"
        except (TelegramRetryAfter, TelegramNetworkError, TelegramServerError) as exc:
            log.info("delivery postponed", error=type(exc).__name__)
            raise _Retry from exc
        return "sent"
