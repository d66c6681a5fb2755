"""What the owner's panel reads and changes: schedule, requests, clients, admins, rules and reports.

Why in the service and not in the routers: a screen then only renders what
it is given, every query runs on the tenant's pool with the service's clock
and time zone, and a test or another front end gets the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot_runtime.booking.domain.availability import local_instant
from bot_runtime.booking.service.base import ServiceBase
from bot_runtime.booking.storage import bookings, clients, reports
from bot_runtime.booking.storage import settings as settings_repo
from bot_runtime.booking.storage.bookings import Booking
from bot_runtime.booking.storage.clients import Client, ClientStats
from bot_runtime.booking.storage.reports import Analytics
from bot_runtime.booking.storage.settings import Settings


@dataclass(frozen=True)
class PanelCounts:
    """The numbers on the panel's first screen."""

    today: int
    pending: int


@dataclass(frozen=True)
class ClientCard:
    """A client with totals and the last visits, as the owner's client card shows them."""

    client: Client
    stats: ClientStats
    history: list[Booking]


class OwnerPanel(ServiceBase):
    """Reads and writes behind the owner's panel."""

    async def panel_counts(self) -> PanelCounts:
        """Count today's active bookings and the requests still waiting, in one query."""
        today = self.today()
        row = await self.pool.fetchrow(
            "SELECT count(*) FILTER (WHERE starts_at >= $1 AND starts_at < $2 AND status IN ('pending', 'confirmed'))"
            " AS today, count(*) FILTER (WHERE status = 'pending' AND starts_at > $3) AS pending"
            " FROM bookings WHERE starts_at >= least($1, $3)",
            local_instant(today, 0, self.tz),
            local_instant(today, 1440, self.tz),
            self.now(),
        )
        assert row is not None
        return PanelCounts(today=row["today"], pending=row["pending"])

    async def bookings_on(self, first: date, last: date) -> list[Booking]:
        """Return the bookings of local days ``first`` to ``last`` (inclusive), for the schedule."""
        return await bookings.between(self.pool, local_instant(first, 0, self.tz), local_instant(last, 1440, self.tz))

    async def booking(self, booking_id: int) -> Booking | None:
        """Return one booking as it is now (a button carries only its id)."""
        return await bookings.get(self.pool, booking_id)

    async def mark_no_show(self, booking_id: int) -> Booking | None:
        """Mark a started confirmed booking as a no-show; None when it has not started or is not confirmed."""
        return await bookings.mark_no_show(self.pool, booking_id, self.now())

    async def pending_requests(self) -> list[Booking]:
        """Return the requests waiting for approval that have not started yet."""
        return await bookings.pending(self.pool, self.now())

    async def client_card(self, client_id: int) -> ClientCard | None:
        """Return a client with totals and the last ten visits; None when the client is gone."""
        client = await clients.get(self.pool, client_id)
        if client is None:
            return None
        stats = await clients.stats(self.pool, client_id, self.now())
        history = await bookings.history_for_client(self.pool, client_id, limit=10)
        return ClientCard(client, stats, history)

    async def recent_clients(self) -> list[Client]:
        """Return the clients seen last, for the clients screen."""
        return await clients.recent(self.pool)

    async def find_clients(self, query: str) -> list[Client]:
        """Find clients by part of a name, @username or phone."""
        return await clients.search(self.pool, query)

    async def set_client_phone(self, client_id: int, phone: str | None) -> None:
        """Store a validated phone (None removes it)."""
        await clients.set_phone(self.pool, client_id, phone)

    async def set_client_notes(self, client_id: int, notes: str) -> None:
        """Store the owner's notes about a client."""
        await clients.set_notes(self.pool, client_id, notes)

    async def set_blacklisted(self, client_id: int, value: bool) -> None:
        """Forbid (or allow again) online booking for a client."""
        await clients.set_blacklisted(self.pool, client_id, value)

    async def broadcast_audience(self) -> int:
        """Count the clients a broadcast would reach (they wrote to the bot and did not block it)."""
        count: int = await self.pool.fetchval(
            "SELECT count(*) FROM clients WHERE telegram_id IS NOT NULL AND NOT blocked_bot"
        )
        return count

    async def analytics(self, first: date, last: date) -> Analytics:
        """Return the figures of local days ``first`` to ``last``."""
        return await reports.analytics(self.pool, first, last, self.tz, self.now())

    async def export_csv(self, first: date, last: date) -> tuple[bytes, int]:
        """Return a CSV of the bookings of local days ``first`` to ``last`` and how many rows it has."""
        return await reports.export_csv(
            self.pool, local_instant(first, 0, self.tz), local_instant(last, 1440, self.tz), self.tz
        )

    async def admin_ids(self) -> list[int]:
        """Return the Telegram ids of the admins the owner added."""
        return await clients.admin_ids(self.pool)

    async def add_admin(self, telegram_id: int, added_by: int) -> bool:
        """Add an admin; False when that id is the owner or already an admin."""
        if telegram_id == self.config.admin_telegram_id:
            return False
        return await clients.add_admin(self.pool, telegram_id, added_by)

    async def remove_admin(self, telegram_id: int) -> bool:
        """Remove an added admin; False when they were not one."""
        return await clients.remove_admin(self.pool, telegram_id)

    async def load_settings(self) -> Settings:
        """Return the booking rules as stored now."""
        return await settings_repo.load(self.pool)

    async def set_auto_confirm(self, value: bool) -> None:
        """Switch between automatic confirmation and manual approval."""
        await settings_repo.set_auto_confirm(self.pool, value)

    async def set_reminders(self, offsets: list[int]) -> None:
        """Store the reminder offsets (minutes before a visit)."""
        await settings_repo.set_reminders(self.pool, offsets)

    async def set_int_setting(self, name: str, value: int) -> None:
        """Store one numeric rule; raises ``ValueError(name)`` when the value is out of its range."""
        await settings_repo.set_int(self.pool, name, value)
