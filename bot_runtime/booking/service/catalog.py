"""The catalogue as the screens see it: services, masters with their week, and blocks or days off.

Why in the service: the owner's catalogue screens and the booking flow read
the same rows; going through one place keeps "now" (for upcoming time off)
on the service's clock and keeps routers free of storage calls.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot_runtime.booking.domain.parsing import ServiceInput
from bot_runtime.booking.service.base import ServiceBase
from bot_runtime.booking.storage import catalog
from bot_runtime.booking.storage.catalog import Master, Service, TimeOff, WeekRules


class Catalogue(ServiceBase):
    """Reads and writes of services, masters and time off."""

    async def all_services(self) -> list[Service]:
        """Return every service, hidden ones too (the owner's list)."""
        return await catalog.list_services(self.pool)

    async def bookable_services(self) -> list[Service]:
        """Return the services a client can book now (active, with an active master)."""
        return await catalog.bookable_services(self.pool)

    async def services(self, service_ids: Sequence[int]) -> list[Service]:
        """Return the services with these ids that still exist."""
        return await catalog.get_services(self.pool, service_ids)

    async def service(self, service_id: int) -> Service | None:
        """Return one service, or None when it is gone."""
        found = await catalog.get_services(self.pool, [service_id])
        return found[0] if found else None

    async def add_service(self, typed: ServiceInput) -> int:
        """Create the service the owner typed; return its id."""
        return await catalog.add_service(
            self.pool, typed.name, typed.duration_min, typed.price, typed.price_max, typed.category
        )

    async def update_service(self, service_id: int, **fields: object) -> None:
        """Change fields of a service (existing bookings keep what they were booked with)."""
        await catalog.update_service(self.pool, service_id, **fields)

    async def all_masters(self) -> list[Master]:
        """Return every master, inactive ones too."""
        return await catalog.list_masters(self.pool)

    async def master(self, master_id: int) -> Master | None:
        """Return one master, or None when they are gone."""
        return await catalog.get_master(self.pool, master_id)

    async def masters_for(self, service_ids: Sequence[int]) -> list[Master]:
        """Return the active masters who do every one of these services."""
        return await catalog.masters_for(self.pool, service_ids)

    async def add_master(self, name: str) -> int:
        """Create a master; return their id."""
        return await catalog.add_master(self.pool, name)

    async def update_master(self, master_id: int, *, name: str | None = None, active: bool | None = None) -> None:
        """Rename a master or stop/resume their bookings."""
        await catalog.update_master(self.pool, master_id, name=name, active=active)

    async def master_service_ids(self, master_id: int) -> set[int]:
        """Return the ids of the services a master does."""
        return await catalog.master_service_ids(self.pool, master_id)

    async def toggle_master_service(self, master_id: int, service_id: int) -> None:
        """Link a service to a master, or unlink it."""
        await catalog.toggle_master_service(self.pool, master_id, service_id)

    async def master_week(self, master_id: int) -> WeekRules:
        """Return a master's weekly hours and breaks."""
        return (await catalog.week_rules(self.pool, [master_id]))[master_id]

    async def set_master_week(self, master_id: int, week: dict[int, list[tuple[int, int]]], *, breaks: bool) -> None:
        """Replace a master's weekly hours (several ranges a day make breaks) or only their breaks."""
        async with self.pool.acquire() as conn:
            if breaks:
                await catalog.set_breaks(conn, master_id, week)
            else:
                await catalog.set_hours(conn, master_id, week)

    async def upcoming_time_off(self, master_id: int | None, *, limit: int = 20) -> list[TimeOff]:
        """Return the blocks and days off that have not ended (``master_id`` None: all of them)."""
        return await catalog.upcoming_time_off(self.pool, self.now(), master_id, limit=limit)

    async def delete_time_off(self, time_off_id: int) -> bool:
        """Remove a block or day off (bookings it cancelled stay cancelled); False when already gone."""
        return await catalog.delete_time_off(self.pool, time_off_id)
