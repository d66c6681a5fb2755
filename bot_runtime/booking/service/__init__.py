"""The booking bot's service layer: use cases, availability, the outbox and the data every screen needs.

Why one ``BookingService`` made of parts: routers and the reminder worker
receive one object (``svc``) and never touch storage; each part is a small
module of one concept (see ``base``), joined here.
"""

from __future__ import annotations

from bot_runtime.booking.service.availability import Visit
from bot_runtime.booking.service.base import AlertButtons
from bot_runtime.booking.service.catalog import Catalogue
from bot_runtime.booking.service.client_side import ClientSide
from bot_runtime.booking.service.panel import ClientCard, OwnerPanel, PanelCounts
from bot_runtime.booking.service.use_cases import UseCases

__all__ = ["AlertButtons", "BookingService", "ClientCard", "PanelCounts", "Visit"]


class BookingService(UseCases, OwnerPanel, Catalogue, ClientSide):
    """The use cases and screen data of one tenant, bound to its pool, configuration and clock."""
