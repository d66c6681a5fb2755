"""Use cases of the booking bot: what happens when someone books, moves, cancels or blocks.

Why a layer between routers and repositories: each use case is one database
transaction that changes bookings *and* queues the messages it causes (owner
alerts, client notices) in the outbox, then delivers them right after the
commit. Routers only render screens; the reminder worker reuses delivery.
Nothing here keeps state between calls: all of it is in PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import asyncpg
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup

from bot_runtime.booking.clock import Clock, system_clock
from bot_runtime.booking.config import BookingConfig
from bot_runtime.booking.domain.availability import (
    Interval,
    days_with_room,
    free_starts,
    local_instant,
    local_today,
    merge_starts,
)
from bot_runtime.booking.domain.parsing import BlockInput
from bot_runtime.booking.keyboards import alert_markup
from bot_runtime.booking.storage import bookings, catalog, clients, outbox
from bot_runtime.booking.storage import settings as settings_repo
from bot_runtime.booking.storage.bookings import Booking
from bot_runtime.booking.storage.catalog import Service
from bot_runtime.booking.storage.outbox import OutMessage
from bot_runtime.booking.storage.settings import Settings
from bot_runtime.booking.storage.types import Tx
from bot_runtime.booking.texts import Html, Tr, esc, fit

log = logging.getLogger("botpool.booking")

#: Deliver at most this many queued messages inline after a use case; the worker sends the rest.
INLINE_DELIVERY = 10


class _Retry(Exception):
    """Telegram asked us to slow down or was unreachable: leave the message for a later try."""


@dataclass(frozen=True)
class Visit:
    """What is being booked: services, their total duration, and candidate masters."""

    services: list[Service]
    duration: timedelta
    master_ids: list[int]


class BookingService:
    """The use cases, bound to one tenant's pool, configuration and clock."""

    def __init__(self, *, pool: asyncpg.Pool, config: BookingConfig, clock: Clock | None = None) -> None:
        """Bind to the tenant; the time zone is parsed once (a bad name fails at start, not per update)."""
        self.pool = pool
        self.config = config
        self.clock: Clock = clock or system_clock
        self.tz = ZoneInfo(config.timezone)

    def now(self) -> datetime:
        """Return the current instant from the injected clock."""
        return self.clock()

    def today(self) -> date:
        """Return the business's local date."""
        return local_today(self.now(), self.tz)

    def tr_for(self, language: str | None) -> Tr:
        """Return texts in ``language`` or the business's default."""
        return Tr(language or self.config.language)

    # ------------------------------------------------------------------ availability for screens

    async def visit(self, service_ids: Sequence[int], master: int) -> Visit | None:
        """Resolve a selection (``master`` 0 = any) into services, duration and masters; None if impossible."""
        services, masters = await catalog.services_and_masters(self.pool, service_ids)
        if not services or len(services) != len(service_ids):
            return None
        if master:
            masters = [m for m in masters if m == master]
        if not masters:
            return None
        return Visit(services, timedelta(minutes=sum(s.duration_min for s in services)), masters)

    def month_window(self, settings: Settings, *, admin: bool) -> tuple[date, date]:
        """Return the first and last local day a calendar may offer."""
        today = self.today()
        last = today + timedelta(days=settings.horizon_days if not admin else max(settings.horizon_days, 90))
        return today, last

    async def room_in_month(
        self,
        master_ids: Sequence[int],
        duration: timedelta,
        year: int,
        month: int,
        settings: Settings,
        *,
        admin: bool = False,
        ignore_booking: int | None = None,
    ) -> set[date]:
        """Return the days of a month on which any of ``master_ids`` has room for ``duration``."""
        first_allowed, last_allowed = self.month_window(settings, admin=admin)
        first = max(date(year, month, 1), first_allowed)
        last = min((date(year, month, 28) + timedelta(days=4)).replace(day=1) - timedelta(days=1), last_allowed)
        if first > last:
            return set()
        now = self.now()
        calendars = await catalog.load_calendars(
            self.pool,
            master_ids,
            local_instant(first, 0, self.tz) - timedelta(days=1),
            local_instant(last, 1440, self.tz) + timedelta(days=1),
            now,
            ignore_booking=ignore_booking,
        )
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        return days_with_room(days, self.tz, duration, settings.rules(), calendars, now, enforce_notice=not admin)

    async def starts_on(
        self,
        master_ids: Sequence[int],
        duration: timedelta,
        day: date,
        settings: Settings,
        *,
        admin: bool = False,
        ignore_booking: int | None = None,
    ) -> dict[datetime, list[int]]:
        """Return the free starts of a local day, each with the masters free then."""
        now = self.now()
        calendars = await catalog.load_calendars(
            self.pool,
            master_ids,
            local_instant(day, 0, self.tz) - timedelta(days=1),
            local_instant(day, 1440, self.tz) + timedelta(days=1),
            now,
            ignore_booking=ignore_booking,
        )
        rules = settings.rules()
        per_master = {
            cal.master_id: free_starts(day, self.tz, duration, rules, cal, now, enforce_notice=not admin)
            for cal in calendars
        }
        return merge_starts(per_master)

    async def busiest_last(self, master_ids: Sequence[int], day: date) -> list[int]:
        """Order masters for "any master": the one with the fewest bookings that day goes first."""
        if len(master_ids) < 2:
            return list(master_ids)
        rows = await self.pool.fetch(
            "SELECT master_id, count(*) AS n FROM bookings WHERE master_id = ANY($1::int[])"
            " AND status IN ('held', 'pending', 'confirmed') AND starts_at >= $2 AND starts_at < $3"
            " GROUP BY master_id",
            list(master_ids),
            local_instant(day, 0, self.tz),
            local_instant(day, 1440, self.tz),
        )
        load = {r["master_id"]: r["n"] for r in rows}
        return sorted(master_ids, key=lambda m: (load.get(m, 0), m))

    # ------------------------------------------------------------------ booking use cases

    async def hold(
        self,
        *,
        visit: Visit,
        start: datetime,
        client_id: int | None,
        held_by: int,
        settings: Settings,
        admin: bool = False,
    ) -> Booking | None:
        """Hold ``start`` for the visit with a free master; None when the time is gone."""
        day = start.astimezone(self.tz).date()
        order = await self.busiest_last(visit.master_ids, day)
        async with self.pool.acquire() as conn:
            return await bookings.hold(
                conn,
                master_ids=order,
                start=start,
                services=visit.services,
                client_id=client_id,
                held_by=held_by,
                source="admin" if admin else "client",
                settings=settings,
                tz=self.tz,
                now=self.now(),
                enforce_notice=not admin,
            )

    async def release(self, booking_id: int | None, held_by: int) -> None:
        """Release a hold the user walked back from."""
        if booking_id:
            await bookings.release_hold(self.pool, booking_id, held_by)

    async def confirm(
        self, bot: Bot, *, hold_id: int, held_by: int, client_id: int, settings: Settings
    ) -> Booking | bookings.ConfirmFailure:
        """Confirm a client's hold (or file it for approval) and alert the admins."""
        status: Literal["pending", "confirmed"] = "confirmed" if settings.auto_confirm else "pending"
        async with self.pool.acquire() as conn, conn.transaction():
            result = await bookings.confirm_hold(
                conn,
                booking_id=hold_id,
                held_by=held_by,
                client_id=client_id,
                status=status,
                settings=settings,
                now=self.now(),
            )
            if isinstance(result, str):
                return result
            ids = await self.alert_admins(
                conn, "a_new" if status == "confirmed" else "a_pending", result, approval=status == "pending"
            )
        await self.deliver(bot, ids)
        return result

    async def confirm_manual(
        self, bot: Bot, *, hold_id: int, admin_id: int, admin_name: str, name: str, phone: str | None
    ) -> Booking | bookings.ConfirmFailure:
        """Book the held time for a client the owner typed in (phone call, walk-in)."""
        async with self.pool.acquire() as conn, conn.transaction():
            client_id = await clients.find_or_create_offline(conn, name, phone)
            settings = await _settings(conn)
            result = await bookings.confirm_hold(
                conn,
                booking_id=hold_id,
                held_by=admin_id,
                client_id=client_id,
                status="confirmed",
                settings=settings,
                now=self.now(),
                enforce_limits=False,
            )
            if isinstance(result, str):
                return result
            ids = await self.alert_admins(conn, "a_manual", result, exclude=admin_id, admin=admin_name)
            ids += await self.notify_client(conn, result, "n_client_booked_by_salon")
        await self.deliver(bot, ids)
        return result

    async def move(
        self, bot: Bot, *, booking_id: int, new_start: datetime, client_id: int | None, actor: int
    ) -> tuple[Booking, Booking] | bookings.MoveFailure:
        """Move a booking; a client's move alerts the admins, an admin's move tells the client."""
        async with self.pool.acquire() as conn, conn.transaction():
            settings = await _settings(conn)
            result = await bookings.move(
                conn,
                booking_id=booking_id,
                new_start=new_start,
                settings=settings,
                tz=self.tz,
                now=self.now(),
                client_id=client_id,
            )
            if isinstance(result, str):
                return result
            old, new = result
            if client_id is not None:
                ids = await self.alert_admins(conn, "a_moved", new, old_when=old.starts_at)
            else:
                ids = await self.notify_client(conn, new, "n_client_moved_by_salon")
        await self.deliver(bot, ids)
        return result

    async def cancel(
        self, bot: Bot, *, booking_id: int, client_id: int | None, by: Literal["client", "admin"]
    ) -> Booking | bookings.CancelFailure:
        """Cancel a booking; a client's cancel alerts the admins, an admin's tells the client."""
        async with self.pool.acquire() as conn, conn.transaction():
            settings = await _settings(conn)
            result = await bookings.cancel(
                conn, booking_id=booking_id, by=by, settings=settings, now=self.now(), client_id=client_id
            )
            if isinstance(result, str):
                return result
            if by == "client":
                ids = await self.alert_admins(conn, "a_cancelled", result)
            else:
                ids = await self.notify_client(conn, result, "n_client_cancelled_by_salon")
        await self.deliver(bot, ids)
        return result

    async def decide(self, bot: Bot, *, booking_id: int, approve: bool) -> Booking | None:
        """Approve or decline a pending request and tell the client; None if already handled."""
        async with self.pool.acquire() as conn, conn.transaction():
            settings = await _settings(conn)
            if approve:
                booking = await bookings.approve(conn, booking_id, settings, self.now())
                key = "n_client_approved"
            else:
                current = await bookings.get(conn, booking_id)
                if current is None or current.status != "pending":
                    return None
                result = await bookings.cancel(
                    conn, booking_id=booking_id, by="admin", settings=settings, now=self.now()
                )
                booking = result if isinstance(result, Booking) else None
                key = "n_client_declined"
            if booking is None:
                return None
            ids = await self.notify_client(conn, booking, key)
        await self.deliver(bot, ids)
        return booking

    def block_spans(self, block: BlockInput) -> list[Interval]:
        """Turn a typed block into absolute spans: whole days merge into one span."""
        spans: list[Interval] = []
        day = block.first
        while day <= block.last:
            if block.minutes is None:
                span = Interval(local_instant(day, 0, self.tz), local_instant(day, 1440, self.tz))
            else:
                span = Interval(
                    local_instant(day, block.minutes[0], self.tz), local_instant(day, block.minutes[1], self.tz)
                )
            if spans and spans[-1].end == span.start:
                spans[-1] = Interval(spans[-1].start, span.end)
            else:
                spans.append(span)
            day += timedelta(days=1)
        return spans

    async def block(self, bot: Bot, *, master_id: int | None, block: BlockInput, kind: str, actor: int) -> int:
        """Block time (or record days off), cancel the bookings inside it, notify those clients.

        Returns how many bookings were cancelled. Live holds inside the block
        are dropped too, so nobody confirms into it.
        """
        spans = self.block_spans(block)
        async with self.pool.acquire() as conn, conn.transaction():
            settings = await _settings(conn)
            await catalog.add_time_off(conn, master_id, spans, kind, actor)
            for span in spans:
                await conn.execute(
                    "DELETE FROM bookings WHERE status = 'held' AND ($1::int IS NULL OR master_id = $1)"
                    " AND starts_at < $3 AND ends_at > $2",
                    master_id,
                    span.start,
                    span.end,
                )
            ids: list[int] = []
            affected = await bookings.affected_by(conn, master_id, spans)
            for booking_id in affected:
                result = await bookings.cancel(
                    conn, booking_id=booking_id, by="block", settings=settings, now=self.now()
                )
                if isinstance(result, Booking):
                    ids += await self.notify_client(conn, result, "n_client_cancelled_by_salon")
        await self.deliver(bot, ids)
        return len(affected)

    # ------------------------------------------------------------------ messages

    async def admin_recipients(self, conn: Tx, *, exclude: int | None = None) -> list[tuple[int, Tr]]:
        """Return every admin (owner first) with their language, except ``exclude``."""
        found = await clients.admins_with_languages(conn, self.config.admin_telegram_id)
        return [(i, self.tr_for(lang)) for i, lang in found if i != exclude]

    def client_label(self, booking: Booking) -> str:
        """Name, @username and phone of a booking's client, for owner screens."""
        parts = [booking.client_name or "?"]
        if booking.client_username:
            parts.append(f"@{booking.client_username}")
        if booking.client_phone:
            parts.append(booking.client_phone)
        return " ".join(parts)

    def booking_values(self, tr: Tr, booking: Booking) -> dict[str, Any]:
        """The common substitutions of booking texts in ``tr``'s language."""
        return {
            "title": booking.title,
            "master": booking.master_name,
            "when": tr.when(booking.starts_at, self.tz),
            "price": tr.price(booking.price, booking.price_max),
            "duration": tr.delta(booking.duration),
            "client": self.client_label(booking),
            "company": self.config.company_name,
        }

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
                OutMessage(chat_id, fit(tr(key, **values)), alert_markup(tr, booking.id, approval=approval))
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
                        log.exception("outbox message %s failed for good", message.id)
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
            log.warning("message to chat %s refused: %s", chat_id, exc.message)
            return "failed"
        except (TelegramRetryAfter, TelegramNetworkError, TelegramServerError) as exc:
            log.info("delivery postponed: %s", type(exc).__name__)
            raise _Retry from exc
        return "sent"


async def _settings(conn: Tx) -> Settings:
    """Read the rules inside the use case's transaction (the update's snapshot may be older)."""
    return await settings_repo.load(conn)
