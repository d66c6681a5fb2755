"""Notification delivery as YooKassa does it: POST the event to the shop's URL, redeliver until it gets a 200.

YooKassa sends ``{"type": "notification", "event": ..., "object": <payment>}`` unsigned, from its own
addresses, and repeats a delivery that was not answered 200 (for 24 hours in production; here with a
bounded backoff and a bounded number of attempts so a test run ends). Each shop may name the local
address deliveries leave from, so a test can make them come from a stranger (``127.0.0.2``) and check
that the receiver refuses them. Every attempt is recorded for the control API.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

from devstack.standins.yookassa.model import JsonDict, Shop, iso, utcnow

log = structlog.get_logger("devstack.standins.yookassa.notify")


@dataclass
class Delivery:
    """One notification and what happened to each attempt to deliver it."""

    number: int
    shop_id: str
    event: str
    payment_id: str
    url: str
    source_address: str
    body: JsonDict
    attempts: list[JsonDict] = field(default_factory=list)
    delivered: bool = False
    gave_up: bool = False

    def to_json(self) -> JsonDict:
        """The delivery for the control API."""
        return {
            "number": self.number, "shop_id": self.shop_id, "event": self.event, "payment_id": self.payment_id,
            "url": self.url, "source_address": self.source_address, "attempts": list(self.attempts),
            "delivered": self.delivered, "gave_up": self.gave_up, "body": self.body,
        }


class Notifier:
    """Schedules and performs deliveries, one task each, with capped exponential backoff between attempts."""

    def __init__(
        self, touch: Callable[[], None], *, first_retry_s: float = 0.2, max_retry_s: float = 2.0,
        max_attempts: int = 30,
    ) -> None:
        """Set the backoff bounds (first pause, longest pause, attempts before giving up) and whom to wake."""
        self.touch = touch
        self.first_retry_s = first_retry_s
        self.max_retry_s = max_retry_s
        self.max_attempts = max_attempts
        self.deliveries: list[Delivery] = []
        self._clients: dict[str, httpx.AsyncClient] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, shop: Shop, event: str, payment: JsonDict) -> Delivery | None:
        """Queue a notification about ``payment`` for the shop's URL; None when the shop has no URL."""
        if not shop.notification_url:
            return None
        body: JsonDict = {"type": "notification", "event": event, "object": payment}
        delivery = Delivery(
            len(self.deliveries) + 1, shop.shop_id, event, str(payment["id"]), shop.notification_url,
            shop.source_address, body,
        )
        self.deliveries.append(delivery)
        task = asyncio.get_running_loop().create_task(self._deliver(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return delivery

    def _client(self, source_address: str) -> httpx.AsyncClient:
        """An HTTP client whose sockets are bound to ``source_address``, so the receiver sees that peer.

        Connections are not kept alive: each attempt is a fresh connection, as YooKassa's are.
        """
        client = self._clients.get(source_address)
        if client is None or client.is_closed:
            transport = httpx.AsyncHTTPTransport(
                local_address=source_address, limits=httpx.Limits(max_keepalive_connections=0)
            )
            client = httpx.AsyncClient(transport=transport, timeout=10, trust_env=False)
            self._clients[source_address] = client
        return client

    async def _deliver(self, delivery: Delivery) -> None:
        pause = self.first_retry_s
        for _ in range(self.max_attempts):
            outcome: dict[str, Any] = {"at": iso(utcnow())}
            try:
                response = await self._client(delivery.source_address).post(delivery.url, json=delivery.body)
                outcome["status"] = response.status_code
            except (httpx.HTTPError, OSError, TimeoutError) as exc:
                outcome["error"] = type(exc).__name__
            delivery.attempts.append(outcome)
            if outcome.get("status") == 200:
                delivery.delivered = True
            self.touch()
            if delivery.delivered:
                return
            log.info("notification not accepted; retrying", notification=delivery.event,
                     payment_id=delivery.payment_id, outcome=outcome.get("status", outcome.get("error")),
                     retry_in_s=round(pause, 1))
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.max_retry_s)
        delivery.gave_up = True
        self.touch()

    async def close(self) -> None:
        """Stop pending redeliveries and close the HTTP clients (on shutdown)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for client in self._clients.values():
            await client.aclose()
