"""Async client for the YooKassa stand-in's control API, used by tests, demos and benchmarks.

It plays the customer (pay, or let the payment fail), manages shops and reads back payments and
notification deliveries; ``wait_payment`` and ``wait_notifications`` are server-side long polls (at
most two minutes), so every call may take up to ``REQUEST_TIMEOUT_S``, longer than any of them. It
speaks HTTP through httpx, the project's one async HTTP client.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

# ControlApiError is part of this client's API (callers catch it from here); both stand-ins share it.
from devstack.standins.control_http import ControlApiError as ControlApiError
from devstack.standins.control_http import control_http_client, control_json

JsonDict = dict[str, Any]

#: Longer than the longest server-side wait (120 s), so the server's 408 is what a caller sees.
REQUEST_TIMEOUT_S = 150.0


@dataclass(frozen=True)
class ShopInfo:
    """A shop in the stand-in: the credentials the SDK is configured with."""

    shop_id: str
    secret_key: str
    notification_url: str | None
    source_address: str


class YooKassaControl:
    """The test's hands on the simulated YooKassa."""

    def __init__(self, base_url: str) -> None:
        """Point at a running stand-in (``http://127.0.0.1:PORT``)."""
        self.base_url = base_url.rstrip("/")
        self._http: httpx.AsyncClient | None = None

    @property
    def api_url(self) -> str:
        """The SDK's ``api_url`` for this stand-in."""
        return f"{self.base_url}/v3"

    async def __aenter__(self) -> Self:
        """Use as an async context manager that closes the HTTP client."""
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Close the HTTP client."""
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _call(self, method: str, path: str, *, json: JsonDict | None = None, **params: Any) -> Any:
        """Send one control request and return its JSON body, raising ``ControlApiError`` on a refusal."""
        if self._http is None or self._http.is_closed:
            self._http = control_http_client(self.base_url, timeout=REQUEST_TIMEOUT_S)
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in params.items() if v is not None}
        try:
            response = await self._http.request(method, path, json=json, params=query)
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"{method} {path}: no answer from the stand-in within {REQUEST_TIMEOUT_S}s") from exc
        return control_json(response)

    async def health(self) -> JsonDict:
        """``{"ok": true, ...}`` when the stand-in serves."""
        result: JsonDict = await self._call("GET", "/control/health")
        return result

    async def create_shop(
        self, *, shop_id: str | None = None, secret_key: str | None = None,
        notification_url: str | None = None, source_address: str | None = None,
    ) -> ShopInfo:
        """Create a shop (or update one): credentials, notification URL and the source address of deliveries."""
        body = {"shop_id": shop_id, "secret_key": secret_key, "notification_url": notification_url,
                "source_address": source_address}
        data = await self._call("POST", "/control/shops", json={k: v for k, v in body.items() if v is not None})
        return ShopInfo(data["shop_id"], data["secret_key"], data["notification_url"], data["source_address"])

    async def payments(self, *, shop_id: str | None = None, status: str | None = None,
                       order_id: str | None = None) -> list[JsonDict]:
        """Payments (oldest first) matching the filters; ``order_id`` matches ``metadata.order_id``."""
        result: list[JsonDict] = await self._call(
            "GET", "/control/payments", shop_id=shop_id, status=status, order_id=order_id
        )
        return result

    async def wait_payment(self, *, order_id: str | None = None, shop_id: str | None = None,
                           count: int = 1, timeout: float = 10) -> list[JsonDict]:  # noqa: ASYNC109
        """Wait until ``count`` payments match (the one a bot created for an order, say) and return them."""
        result: list[JsonDict] = await self._call(
            "GET", "/control/payments/wait", order_id=order_id, shop_id=shop_id, count=count, timeout=timeout
        )
        return result

    async def payment(self, payment_id: str) -> JsonDict:
        """One payment as the v3 API shows it."""
        result: JsonDict = await self._call("GET", f"/control/payments/{payment_id}")
        return result

    async def pay(self, payment_id: str) -> JsonDict:
        """The customer pays (succeeded, or waiting_for_capture for a two-stage payment)."""
        result: JsonDict = await self._call("POST", f"/control/payments/{payment_id}/pay")
        return result

    async def cancel(self, payment_id: str, reason: str = "expired_on_confirmation",
                     party: str | None = None) -> JsonDict:
        """The payment fails on YooKassa's side with ``reason`` (and ``party``)."""
        body: JsonDict = {"reason": reason}
        if party:
            body["party"] = party
        result: JsonDict = await self._call("POST", f"/control/payments/{payment_id}/cancel", json=body)
        return result

    async def renotify(self, payment_id: str, event: str | None = None) -> JsonDict:
        """Deliver a payment's notification again (a YooKassa redelivery; ``event`` defaults to its status)."""
        result: JsonDict = await self._call(
            "POST", f"/control/payments/{payment_id}/notify", json={"event": event} if event else {}
        )
        return result

    async def notifications(self, *, payment_id: str | None = None, event: str | None = None) -> list[JsonDict]:
        """Deliveries with their attempts."""
        result: list[JsonDict] = await self._call(
            "GET", "/control/notifications", payment_id=payment_id, event=event
        )
        return result

    async def wait_notifications(
        self, *, payment_id: str | None = None, event: str | None = None, count: int = 1,
        attempts: int = 1, delivered: bool = False, timeout: float = 10,  # noqa: ASYNC109
    ) -> list[JsonDict]:
        """Wait until ``count`` deliveries reached ``attempts`` attempts (or were answered 200 / given up)."""
        result: list[JsonDict] = await self._call(
            "GET", "/control/notifications/wait", payment_id=payment_id, event=event, count=count,
            attempts=attempts, delivered=delivered, timeout=timeout,
        )
        return result
