"""The pause fence: a slot that was frozen longer than its health check tolerates never talks to Telegram again.

A slot stopped (SIGSTOP, a paused VM, a swapped-out process) for longer than its
check's failure window has dropped out of the pool, and the reconciler has moved its
tenant to another slot meanwhile. On waking, the old slot must not serve the
tenant beside the new one. A watcher task that notices the jump in the clock is
not enough on its own: when the process resumes, asyncio runs the callbacks of
sockets that became readable *before* expired timers, so the tenant's polling
task can handle a getUpdates answer that arrived during the freeze, answer it
and poll again before any timer-driven check runs. So the fence is checked where
it matters, synchronously: an aiogram request middleware refuses every Bot API
call, and an update middleware drops every update, once the clock shows the
process was paused (``frozen``), and the watcher then stops the tenant's bot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import TelegramObject

from botpool.errors import BotpoolError

#: How often the watcher looks at the clock, and the pause after which a slot stops serving: shorter
#: than the ~5 s a frozen slot needs to drop out of the pool (3 failed 1 s checks) and be replaced.
PAUSE_TICK_S = 0.5
PAUSE_LIMIT_S = 4.0


class Fenced(BotpoolError):
    """A Bot API call refused because this slot was paused past its tolerance (its tenant has moved)."""


class PauseFence:
    """The clock the watcher keeps, and the check every request and update passes."""

    def __init__(self, *, tick_s: float = PAUSE_TICK_S, limit_s: float = PAUSE_LIMIT_S) -> None:
        """Check every ``tick_s``; a gap longer than ``limit_s`` means the process was paused."""
        self.tick_s = tick_s
        self.limit_s = limit_s
        self.last: float | None = None
        self.tripped = False

    def frozen(self) -> bool:
        """True when a pause was seen, or the watcher's last tick is older than a pause (we just woke up)."""
        if self.tripped:
            return True
        if self.last is None:
            return False
        return asyncio.get_running_loop().time() - self.last > self.limit_s + self.tick_s

    def rearm(self) -> None:
        """Serve again (a new tenant was assigned after the paused one was given up)."""
        self.tripped = False
        self.last = asyncio.get_running_loop().time()

    async def watch(self, on_pause: Callable[[float], Awaitable[None]]) -> None:
        """Tick until cancelled; after a pause, trip the fence and call ``on_pause(seconds)``."""
        loop = asyncio.get_running_loop()
        self.last = loop.time()
        while True:
            await asyncio.sleep(self.tick_s)
            now = loop.time()
            paused = now - self.last - self.tick_s
            if paused > self.limit_s:
                self.tripped = True
                await on_pause(paused)
            self.last = loop.time()

    def requests(self) -> BaseRequestMiddleware:
        """The request middleware for a tenant bot's session."""
        return _RequestFence(self)

    def updates(self) -> BaseMiddleware:
        """The outermost update middleware for a tenant bot's dispatcher."""
        return _UpdateFence(self)


class _RequestFence(BaseRequestMiddleware):
    def __init__(self, fence: PauseFence) -> None:
        self.fence = fence

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        if self.fence.frozen():
            raise Fenced(f"{type(method).__name__} refused: this slot was paused and its tenant has moved")
        return await make_request(bot, method)


class _UpdateFence(BaseMiddleware):
    def __init__(self, fence: PauseFence) -> None:
        self.fence = fence

    async def __call__(
        self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]], event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        if self.fence.frozen():
            return None  # the tenant's new slot receives it too (it was never confirmed) and answers it
        return await handler(event, data)
