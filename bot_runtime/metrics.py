"""Prometheus metrics of one pool slot, served as ``/metrics`` on the slot's health port.

The slot already serves ``/health`` on the port Nomad gives it and registers
in Consul (service ``bot-pool-slot``); ``/metrics`` is served by that same
server, so the port Prometheus discovers through Consul (tag ``metrics``) is
the one that is already registered, and a slot needs no second port, no
second listener and no registration of its own. Every series carries the
slot's index (``slot``), which stays the same across restarts of its
allocation, so a dashboard follows one slot through its incarnations.

The registry is private (not prometheus-client's global one), so several
slots built in one test process do not collide.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from botpool.pool.model import SlotMode

#: Activation times around the 1 s the pool promises (the p99 alert's threshold is the 1.0 bucket).
ACTIVATION_BUCKETS = (0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class SlotMetrics:
    """The slot's state, activations, and its tenant bot's updates and handler errors, in one registry."""

    def __init__(self, index: int) -> None:
        """Create the series of slot ``index`` (state starts WAITING, the way a slot joins the pool)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.slot = str(index)
        self.state = Gauge("botpool_slot_state", "1 for the slot's current state, 0 for the others.",
                           ["slot", "state"], registry=self.registry)
        self.activation = Histogram(
            "botpool_slot_activation_seconds",
            "Time from the slot seeing its claim to the tenant's bot polling (successful activations).",
            ["slot"], buckets=ACTIVATION_BUCKETS, registry=self.registry,
        )
        self.activation_failures = Counter(
            "botpool_slot_activation_failures", "Claims this slot could not activate, by the reason's kind.",
            ["slot", "reason"], registry=self.registry,
        )
        self.updates = Counter("botpool_slot_updates",
                               "Telegram updates the tenant's bot received (including rate-limited ones).",
                               ["slot"], registry=self.registry)
        self.handler_errors = Counter("botpool_slot_handler_errors",
                                      "Updates whose handling raised (the user got the error boundary's apology).",
                                      ["slot"], registry=self.registry)
        self.updates.labels(self.slot)
        self.handler_errors.labels(self.slot)
        self.activation.labels(self.slot)
        self.set_state(SlotMode.WAITING)

    def set_state(self, mode: SlotMode) -> None:
        """Make ``mode`` the slot's one current state."""
        for each in SlotMode:
            self.state.labels(self.slot, each.value).set(1 if each is mode else 0)

    def activated(self, seconds: float) -> None:
        """Record one successful activation and how long it took."""
        self.activation.labels(self.slot).observe(seconds)

    def activation_failed(self, error: str) -> None:
        """Count a failed activation by its error's kind (the part before the colon: ``handoff_refused``...)."""
        self.activation_failures.labels(self.slot, error.split(":", 1)[0].strip()[:40] or "unknown").inc()

    def updates_middleware(self) -> BaseMiddleware:
        """An update middleware that counts every update the tenant's bot receives."""
        return _Count(self.updates.labels(self.slot))

    def errors_middleware(self) -> BaseMiddleware:
        """A middleware for the dispatcher's error observer: counts each failure that reaches the error boundary."""
        return _Count(self.handler_errors.labels(self.slot))

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)


class _Count(BaseMiddleware):
    """Counts the events passing through, then hands them on unchanged."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        self._counter.inc()
        return await handler(event, data)
