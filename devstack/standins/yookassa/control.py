"""Control API of the YooKassa stand-in (``/control/...``) and the customer's checkout page (``/checkout/{id}``).

Tests cannot type a card number, so this JSON API plays the customer (pay, or fail with a reason),
manages shops (credentials, notification URL, the address notifications come from) and shows what
happened (payments, every notification delivery attempt). Waits are server-side long polls, so tests
never sleep-loop. The checkout page does the same for a person trying the local stack in a browser.
"""

from __future__ import annotations

import html
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from devstack.standins.yookassa.model import ControlError, JsonDict, Payment
from devstack.standins.yookassa.notify import Delivery, Notifier
from devstack.standins.yookassa.state import World

MAX_WAIT_SECONDS = 120.0
EVENTS = ("payment.succeeded", "payment.waiting_for_capture", "payment.canceled")


async def _body(request: web.Request) -> JsonDict:
    """A JSON object body (empty means ``{}``), refusing anything else."""
    if not (await request.read()).strip():
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise ControlError(400, "JSON object body expected") from None
    if not isinstance(body, dict):
        raise ControlError(400, "JSON object body expected")
    return body


def _seconds(value: str | None) -> float:
    """A wait's ``timeout`` query parameter: default 10 s, clamped to 0..MAX_WAIT_SECONDS."""
    if not value:
        return 10.0
    try:
        return min(max(float(value), 0.0), MAX_WAIT_SECONDS)
    except ValueError:
        raise ControlError(400, "timeout must be a number") from None


def _int(value: str | None, name: str, default: int) -> int:
    """An integer query parameter with a default."""
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ControlError(400, f"{name} must be an integer") from None


class ControlApi:
    """Routes for playing the customer and inspecting the simulated YooKassa."""

    def __init__(self, world: World, notifier: Notifier) -> None:
        """Bind to the world and the notifier shared with the v3 API."""
        self.world = world
        self.notifier = notifier

    def register(self, app: web.Application) -> None:
        """Add the control and checkout routes; ``ControlError`` becomes a JSON error response."""
        routes: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
            ("GET", "/control/health", self.health),
            ("POST", "/control/shops", self.upsert_shop),
            ("GET", "/control/shops/{shop_id}", self.get_shop),
            ("GET", "/control/payments", self.list_payments),
            ("GET", "/control/payments/wait", self.wait_payment),
            ("GET", "/control/payments/{payment_id}", self.get_payment),
            ("POST", "/control/payments/{payment_id}/pay", self.pay),
            ("POST", "/control/payments/{payment_id}/cancel", self.cancel),
            ("POST", "/control/payments/{payment_id}/notify", self.renotify),
            ("GET", "/control/notifications", self.list_notifications),
            ("GET", "/control/notifications/wait", self.wait_notifications),
            ("GET", "/checkout/{payment_id}", self.checkout_page),
            ("POST", "/checkout/{payment_id}/{action}", self.checkout_action),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, self._wrap(handler))

    @staticmethod
    def _wrap(
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ControlError as exc:
                return web.json_response({"error": exc.message, "status": exc.status}, status=exc.status)

        return wrapped

    async def health(self, request: web.Request) -> web.Response:
        """Liveness for fixtures: ``{"ok": true}`` and counts."""
        return web.json_response(
            {"ok": True, "shops": len(self.world.shops), "payments": len(self.world.payments)}
        )

    async def upsert_shop(self, request: web.Request) -> web.Response:
        """Create a shop (credentials generated unless given) or change its notification URL and source."""
        body = await _body(request)
        fields = {k: body.get(k) for k in ("shop_id", "secret_key", "notification_url", "source_address")}
        for name, value in fields.items():
            if value is not None and not isinstance(value, str):
                raise ControlError(400, f"{name} must be a string")
        shop = self.world.upsert_shop(
            fields["shop_id"], fields["secret_key"],
            notification_url=fields["notification_url"], source_address=fields["source_address"],
        )
        return web.json_response(shop.to_json())

    async def get_shop(self, request: web.Request) -> web.Response:
        """One shop's settings."""
        shop = self.world.shops.get(request.match_info["shop_id"])
        if shop is None:
            raise ControlError(404, "no such shop")
        return web.json_response(shop.to_json())

    def _matching(self, request: web.Request) -> list[Payment]:
        query = request.query
        return [
            p for p in self.world.payments.values()
            if (not query.get("shop_id") or p.shop_id == query["shop_id"])
            and (not query.get("status") or p.status == query["status"])
            and (not query.get("order_id") or p.metadata.get("order_id") == query["order_id"])
        ]

    async def list_payments(self, request: web.Request) -> web.Response:
        """Payments, oldest first, filtered by ``shop_id``, ``status`` and ``order_id`` (metadata)."""
        return web.json_response([p.to_json() for p in self._matching(request)])

    async def wait_payment(self, request: web.Request) -> web.Response:
        """Long poll until a payment matching the filters exists (``count`` of them); 408 on timeout."""
        count = _int(request.query.get("count"), "count", 1)
        deadline = time.monotonic() + _seconds(request.query.get("timeout"))
        while True:
            found = self._matching(request)
            if len(found) >= count:
                return web.json_response([p.to_json() for p in found])
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await self.world.wait_change(remaining):
                raise ControlError(408, "no matching payment appeared in time")

    async def get_payment(self, request: web.Request) -> web.Response:
        """One payment as the v3 API shows it."""
        return web.json_response(self.world.find(request.match_info["payment_id"]).to_json())

    async def pay(self, request: web.Request) -> web.Response:
        """The customer pays: succeeded (capture=true) or waiting_for_capture, with its notification."""
        return web.json_response(self.world.customer_pays(request.match_info["payment_id"]).to_json())

    async def cancel(self, request: web.Request) -> web.Response:
        """The payment fails for the customer: ``reason`` (default expired_on_confirmation), optional ``party``."""
        body = await _body(request)
        reason = body.get("reason", "expired_on_confirmation")
        party = body.get("party")
        if not isinstance(reason, str) or (party is not None and not isinstance(party, str)):
            raise ControlError(400, "reason and party must be strings")
        payment = self.world.customer_cancels(request.match_info["payment_id"], reason, party)
        return web.json_response(payment.to_json())

    async def renotify(self, request: web.Request) -> web.Response:
        """Send a payment's notification again, as YooKassa's redelivery would (``event`` defaults to the status)."""
        payment = self.world.find(request.match_info["payment_id"])
        body = await _body(request)
        event = body.get("event", f"payment.{payment.status}")
        if event not in EVENTS:
            raise ControlError(400, f"event must be one of {', '.join(EVENTS)}")
        shop = self.world.shops[payment.shop_id]
        delivery = self.notifier.submit(shop, event, payment.to_json())
        if delivery is None:
            raise ControlError(409, "the shop has no notification_url")
        return web.json_response(delivery.to_json())

    def _deliveries(self, request: web.Request) -> list[Delivery]:
        query = request.query
        return [
            d for d in self.notifier.deliveries
            if (not query.get("payment_id") or d.payment_id == query["payment_id"])
            and (not query.get("shop_id") or d.shop_id == query["shop_id"])
            and (not query.get("event") or d.event == query["event"])
        ]

    async def list_notifications(self, request: web.Request) -> web.Response:
        """Every delivery with its attempts, filtered by ``payment_id``, ``shop_id`` and ``event``."""
        return web.json_response([d.to_json() for d in self._deliveries(request)])

    async def wait_notifications(self, request: web.Request) -> web.Response:
        """Long poll until ``count`` matching deliveries each reached ``attempts`` attempts or settled.

        A delivery settles when it was answered 200 or given up; ``delivered=true`` waits for 200s only.
        """
        count = _int(request.query.get("count"), "count", 1)
        attempts = _int(request.query.get("attempts"), "attempts", 1)
        want_delivered = request.query.get("delivered", "").lower() in ("1", "true", "yes")
        deadline = time.monotonic() + _seconds(request.query.get("timeout"))

        def ready(d: Delivery) -> bool:
            if want_delivered:
                return d.delivered
            return d.delivered or d.gave_up or len(d.attempts) >= attempts

        while True:
            found = self._deliveries(request)
            if sum(1 for d in found if ready(d)) >= count:
                return web.json_response([d.to_json() for d in found])
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await self.world.wait_change(remaining):
                raise ControlError(408, "the awaited notifications did not happen in time")

    async def checkout_page(self, request: web.Request) -> web.Response:
        """The customer's payment page: amount, description and two buttons (pay, give up)."""
        payment = self.world.find(request.match_info["payment_id"])
        title = html.escape(payment.description or "Payment")
        amount = f"{payment.amount:.2f} {payment.currency}"
        if payment.status != "pending":
            body = f"<p>This payment is {html.escape(payment.status)}.</p>"
        else:
            base = f"/checkout/{html.escape(payment.id)}"
            body = (
                f'<form method="post" action="{base}/pay"><button>Pay {amount}</button></form>'
                f'<form method="post" action="{base}/cancel"><button>Cancel</button></form>'
            )
        page = f"<!doctype html><title>YooKassa stand-in</title><h1>{title}</h1><p>{amount}</p>{body}"
        return web.Response(text=page, content_type="text/html")

    async def checkout_action(self, request: web.Request) -> web.StreamResponse:
        """A button on the checkout page: pay or cancel, then back to the shop's return_url."""
        payment_id = request.match_info["payment_id"]
        action: Any = request.match_info["action"]
        if action == "pay":
            payment = self.world.customer_pays(payment_id)
        elif action == "cancel":
            payment = self.world.customer_cancels(payment_id, "expired_on_confirmation")
        else:
            raise ControlError(404, "unknown checkout action")
        raise web.HTTPSeeOther(payment.return_url)
