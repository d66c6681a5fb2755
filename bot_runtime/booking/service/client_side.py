"""What a client's own screens read and change: their upcoming bookings, ratings and language.

Why separate from the owner's panel: these calls are always scoped to the
client the update came from, which the storage queries check in SQL.
"""

from __future__ import annotations

from bot_runtime.booking.service.base import ServiceBase
from bot_runtime.booking.storage import bookings, clients
from bot_runtime.booking.storage.bookings import Booking


class ClientSide(ServiceBase):
    """Reads and writes behind "my bookings", ratings and the language switch."""

    async def upcoming_for_client(self, client_id: int) -> list[Booking]:
        """Return the client's active bookings that have not started."""
        return await bookings.upcoming_for_client(self.pool, client_id, self.now())

    async def count_active(self, client_id: int) -> int:
        """Count the client's active upcoming bookings (the limit per client)."""
        return await bookings.count_active(self.pool, client_id, self.now())

    async def rate(self, booking_id: int, client_id: int, stars: int) -> bool:
        """Store the client's rating of their visit once; False when rated already or not theirs."""
        return await bookings.set_rating(self.pool, booking_id, client_id, stars)

    async def set_language(self, client_id: int, language: str) -> None:
        """Remember the client's language for screens and reminders."""
        await clients.set_language(self.pool, client_id, language)
