"""The YooKassa API v3 routes the official SDK calls: create, get, list, capture and cancel payments.

The SDK joins ``Configuration.api_url`` with ``/payments...``, so the stand-in serves them under ``/v3``
and the SDK is configured with ``api_url=http://HOST:PORT/v3``. Every request needs Basic auth (shop id
and secret key); POSTs need an ``Idempotence-Key``; refusals use YooKassa's error object and status
codes, which the SDK turns into its ``BadRequestError``, ``UnauthorizedError``, ``NotFoundError``.
"""

from __future__ import annotations

import binascii
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BasicAuth, web

from devstack.standins.yookassa.model import ApiError, JsonDict, Shop, invalid
from devstack.standins.yookassa.state import World

Handler = Callable[[web.Request, Shop], Awaitable[JsonDict]]


async def _json_body(request: web.Request) -> Any:
    """The request's JSON body, None when empty, or YooKassa's 400 for anything unparsable."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise invalid("Request body is not valid JSON") from None


class PaymentsApi:
    """The ``/v3/payments`` routes over one ``World``."""

    def __init__(self, world: World) -> None:
        """Bind to the shared world."""
        self.world = world

    def register(self, app: web.Application) -> None:
        """Add the v3 routes; each is authenticated and answers errors in YooKassa's format."""
        app.router.add_post("/v3/payments", self._wrap(self.create, idempotent=True))
        app.router.add_get("/v3/payments", self._wrap(self.list_payments))
        app.router.add_get("/v3/payments/{payment_id}", self._wrap(self.get))
        app.router.add_post("/v3/payments/{payment_id}/capture", self._wrap(self.capture, idempotent=True))
        app.router.add_post("/v3/payments/{payment_id}/cancel", self._wrap(self.cancel, idempotent=True))

    def _shop(self, request: web.Request) -> Shop:
        header = request.headers.get("Authorization", "")
        try:
            auth = BasicAuth.decode(header) if header else None
        except (ValueError, binascii.Error):
            auth = None
        return self.world.authenticate(auth.login if auth else None, auth.password if auth else None)

    def _wrap(self, handler: Handler, *, idempotent: bool = False) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def route(request: web.Request) -> web.Response:
            try:
                shop = self._shop(request)
                if not idempotent:
                    return web.json_response(await handler(request, shop))
                body = await _json_body(request)
                request["body"] = body
                key = request.headers.get("Idempotence-Key")
                remembered = self.world.replay(shop, request.path, key, body)
                if remembered is not None:
                    return web.json_response(remembered)
                result = await handler(request, shop)
                assert key is not None
                self.world.remember(shop, request.path, key, body, result)
                return web.json_response(result)
            except ApiError as exc:
                return web.json_response(exc.body(), status=exc.status)

        return route

    async def create(self, request: web.Request, shop: Shop) -> JsonDict:
        """``POST /v3/payments``: a new pending payment with a redirect confirmation."""
        checkout_base = f"{request.scheme}://{request.host}"
        return self.world.create_payment(shop, request["body"], checkout_base).to_json()

    async def get(self, request: web.Request, shop: Shop) -> JsonDict:
        """``GET /v3/payments/{id}``: the payment as it is now."""
        return self.world.get(shop, request.match_info["payment_id"]).to_json()

    async def list_payments(self, request: web.Request, shop: Shop) -> JsonDict:
        """``GET /v3/payments``: this shop's payments, newest first, optionally filtered by ``status``."""
        wanted = request.query.get("status")
        items = [
            p.to_json() for p in reversed(self.world.payments.values())
            if p.shop_id == shop.shop_id and (wanted is None or p.status == wanted)
        ]
        try:
            limit = max(1, min(int(request.query.get("limit", "10")), 100))
        except ValueError:
            raise invalid("limit must be an integer from 1 to 100", "limit") from None
        return {"type": "list", "items": items[:limit]}

    async def capture(self, request: web.Request, shop: Shop) -> JsonDict:
        """``POST /v3/payments/{id}/capture``: take the authorised money."""
        return self.world.capture(shop, request.match_info["payment_id"], request["body"]).to_json()

    async def cancel(self, request: web.Request, shop: Shop) -> JsonDict:
        """``POST /v3/payments/{id}/cancel``: release the authorised money."""
        return self.world.cancel(shop, request.match_info["payment_id"]).to_json()
