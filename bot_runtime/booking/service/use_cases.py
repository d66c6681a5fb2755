"""Use cases of the booking bot: what happens when someone books, moves, cancels or blocks.

Why a layer between routers and repositories: each use case is one database
transaction that changes bookings *and* queues the messages it causes (owner
alerts, client notices) in the outbox, then delivers them right after the
commit. Nothing here keeps state between calls: all of it is in PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiogram import Bot

from bot_runtime.booking.domain.parsing import BlockInput
from bot_runtime.booking.service.availability import Availability, Visit
from bot_runtime.booking.service.messages import Messages
from bot_runtime.booking.storage import bookings, catalog, clients
from bot_runtime.booking.storage import settings as settings_repo
from bot_runtime.booking.storage.bookings import Booking
from bot_runtime.booking.storage.settings import Settings
from bot_runtime.booking.storage.types import Tx


class UseCases(Availability, Messages):
    """The state changes of bookings, each with the messages it causes."""

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


async def _settings(conn: Tx) -> Settings:
    """Read the rules inside the use case's transaction (the update's snapshot may be older)."""
    return await settings_repo.load(conn)
