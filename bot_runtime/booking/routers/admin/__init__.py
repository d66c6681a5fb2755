"""The owner's panel: one module per screen, plus ``common`` for what the screens share.

``entry`` opens the panel for anyone who asks (and tells a client it is for
admins); ``ROUTERS`` are the screens, each admitting only admins. They are
independent (every button's action is handled in exactly one of them), so
their order among themselves does not matter.
"""

from __future__ import annotations

from bot_runtime.booking.routers.admin import (
    admins,
    analytics,
    broadcast,
    clients,
    masters,
    menu,
    schedule,
    services,
    settings,
    time_off,
)
from bot_runtime.booking.routers.spec import RouterSpec

entry = menu.entry

ROUTERS: tuple[RouterSpec, ...] = (
    menu.router,
    schedule.router,
    clients.router,
    broadcast.router,
    analytics.router,
    admins.router,
    settings.router,
    services.router,
    masters.router,
    time_off.router,
)

__all__ = ["ROUTERS", "entry"]
