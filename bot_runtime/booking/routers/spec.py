"""Router blueprints: handlers are declared once at import, and each dispatcher gets fresh routers.

Why: an aiogram ``Router`` can be attached to one dispatcher only, but a
runtime process may build several dispatchers (a restart in place, a second
tenant, the tests). Modules declare handlers with the familiar decorators on
a ``RouterSpec``; ``build()`` turns it into a new ``Router`` every time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.dispatcher.event.handler import CallbackType

Handler = Callable[..., Any]


class RouterSpec:
    """Collects handlers, router-level filters and middlewares; builds routers on demand."""

    def __init__(self, name: str) -> None:
        """Name the routers this spec builds (aiogram shows the name in its logs)."""
        self.name = name
        self._handlers: list[tuple[str, Handler, tuple[CallbackType, ...]]] = []
        self._filters: list[tuple[str, tuple[CallbackType, ...]]] = []
        self._middlewares: list[tuple[str, Callable[[], BaseMiddleware]]] = []

    def _decorator(self, observer: str, filters: tuple[CallbackType, ...]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._handlers.append((observer, handler, filters))
            return handler

        return register

    def message(self, *filters: CallbackType) -> Callable[[Handler], Handler]:
        """Declare a message handler, like ``Router.message``."""
        return self._decorator("message", filters)

    def callback_query(self, *filters: CallbackType) -> Callable[[Handler], Handler]:
        """Declare a callback query handler, like ``Router.callback_query``."""
        return self._decorator("callback_query", filters)

    def filter_all(self, *filters: CallbackType) -> None:
        """Apply filters to every message and callback handler of the router (e.g. "is admin")."""
        self._filters.append(("message", filters))
        self._filters.append(("callback_query", filters))

    def callback_middleware(self, factory: Callable[[], BaseMiddleware]) -> None:
        """Add an inner callback-query middleware, built fresh for each router."""
        self._middlewares.append(("callback_query", factory))

    def build(self) -> Router:
        """Return a new ``Router`` with everything declared so far."""
        router = Router(name=self.name)
        for observer, filters in self._filters:
            router.observers[observer].filter(*filters)
        for observer, factory in self._middlewares:
            router.observers[observer].middleware(factory())
        for observer, handler, filters in self._handlers:
            router.observers[observer].register(handler, *filters)
        return router
