"""The HTTP endpoint YooKassa posts payment notifications to (served by the sales bot's aiohttp app).

YooKassa's notifications are unsigned, so nothing in one is believed: the sender must be in the trusted
networks (403 otherwise, nothing done), the body only names a payment id, and the payment is re-fetched
from YooKassa with our credentials before anything is recorded. The answer is 200 only once the fact is
stored (or once we know no redelivery could change anything: an unknown payment, recorded as an anomaly
once); a failure to reach YooKassa or the database is a 503, so YooKassa delivers the notification again.
Handling is idempotent, so duplicates, replays and out-of-order deliveries change nothing twice.

The peer address is the TCP peer (``request.remote``). Behind a reverse proxy, run aiohttp with a
forwarded-header middleware that rewrites ``remote`` only for the proxy's own address.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import asyncpg
import structlog
from aiohttp import web

from botpool.commerce.payments import Outcome, Payments
from botpool.commerce.yookassa import PaymentGatewayError, PaymentNotFound, TrustedNetworks

log = structlog.get_logger("botpool.commerce.notifications")

DEFAULT_PATH = "/yookassa/notifications"
#: Notifications are a few kilobytes; anything far larger is not from YooKassa.
MAX_BODY_BYTES = 64 * 1024

Handler = Callable[[web.Request], Awaitable[web.Response]]


def _payment_id(raw: bytes) -> tuple[str, str] | None:
    """The (event, payment id) a notification names, or None if it is not a well-formed notification."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(body, dict) or body.get("type") != "notification":
        return None
    event, obj = body.get("event"), body.get("object")
    if not isinstance(event, str) or not isinstance(obj, dict):
        return None
    payment_id = obj.get("id")
    if not isinstance(payment_id, str) or not 1 <= len(payment_id) <= 64:
        return None
    return event, payment_id


def notification_handler(payments: Payments, trusted: TrustedNetworks) -> Handler:
    """An aiohttp handler for YooKassa's notifications, applying them through ``payments``."""

    async def handle(request: web.Request) -> web.Response:
        peer = request.remote or ""
        if peer not in trusted:
            log.warning("notification from an untrusted address refused", peer=peer)
            return web.Response(status=403, text="forbidden")
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return web.Response(status=413, text="too large")
        parsed = _payment_id(await request.read())
        if parsed is None:
            log.warning("malformed notification refused", peer=peer)
            return web.Response(status=400, text="not a YooKassa notification")
        event, payment_id = parsed
        if not event.startswith("payment."):
            log.info("notification ignored", notification_event=event)
            return web.Response(text="ignored")
        try:
            remote = await payments.gateway.fetch(payment_id)
        except PaymentNotFound:
            await payments.apply_unknown(payment_id, f"notification {event} for a payment YooKassa does not know")
            return web.Response(text="unknown payment")
        except PaymentGatewayError as exc:
            log.warning("could not re-fetch a notified payment; YooKassa will redeliver", payment_id=payment_id,
                        error=str(exc))
            return web.Response(status=503, text="try again")
        try:
            outcome = await payments.apply(remote)
        except (asyncpg.PostgresError, OSError, PaymentGatewayError) as exc:
            log.warning("could not record a notified payment; YooKassa will redeliver", payment_id=payment_id,
                        error=type(exc).__name__)
            return web.Response(status=503, text="try again")
        log.info("notification applied", notification_event=event, payment_id=payment_id, outcome=outcome.value)
        return web.Response(text=outcome.value)

    return handle


def add_routes(app: web.Application, payments: Payments, trusted: TrustedNetworks, path: str = DEFAULT_PATH) -> None:
    """Serve the notification endpoint at ``path`` (POST) in an existing aiohttp app."""
    app.router.add_post(path, notification_handler(payments, trusted))


def notification_app(payments: Payments, trusted: TrustedNetworks, path: str = DEFAULT_PATH) -> web.Application:
    """A stand-alone aiohttp app with just the notification endpoint (the sales bot may embed the routes instead)."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    add_routes(app, payments, trusted, path)
    return app


__all__ = ["DEFAULT_PATH", "Outcome", "add_routes", "notification_app", "notification_handler"]
