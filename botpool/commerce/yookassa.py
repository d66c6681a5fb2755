"""YooKassa through its official SDK: create a payment for an order, re-fetch a payment, capture it.

The SDK is synchronous (requests), so every call runs in a worker thread. Its credentials live in a
process-wide ``Configuration``; each gateway builds the SDK's ``ApiClient`` under a lock right after
configuring its own shop, and the HTTP call itself runs outside the lock, so several gateways (tests,
two shops) never borrow each other's keys and calls still run in parallel. The SDK's request logger is
never configured, because it would log the Authorization header.

The Idempotence-Key of a payment is derived from the order id (UUIDv5), so however often creation is
retried (a double tap, a timeout, a restart) YooKassa returns the same payment and never charges twice.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import requests
from pydantic import AnyHttpUrl, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode
from yookassa import Configuration, Payment
from yookassa.client import ApiClient
from yookassa.domain.common.security_helper import SecurityHelper
from yookassa.domain.exceptions import ApiError, NotFoundError

from botpool.commerce.orders import Order
from botpool.commerce.tariffs import kopecks_to_value, value_to_kopecks
from botpool.errors import BotpoolError
from botpool.settings import _COMMON

T = TypeVar("T")
_NAMESPACE = uuid.UUID("7f1c7f0e-52b4-4c8e-9a35-3d2f0f6b9a11")
_CONFIGURE_LOCK = threading.Lock()
LOCAL_NETWORKS = ("127.0.0.1/32",)


class PaymentGatewayError(BotpoolError):
    """YooKassa could not be reached or refused a request; the message is safe to log (no secrets)."""


class PaymentNotFound(PaymentGatewayError):
    """YooKassa knows no payment with this id for our shop."""


class YooKassaSettings(BaseSettings):
    """The shop's credentials, the API address, where buyers return after paying, and whom to trust.

    ``YOOKASSA_TRUSTED_NETWORKS`` (comma-separated CIDRs) defaults to YooKassa's published ranges as the
    SDK lists them; the local stack and tests set ``127.0.0.1/32`` so another loopback address (a test
    playing a stranger from 127.0.0.2) is refused.
    """

    model_config = _COMMON
    shop_id: str = Field(alias="YOOKASSA_SHOP_ID", pattern=r"^[0-9A-Za-z_-]{1,64}$")
    secret_key: SecretStr = Field(alias="YOOKASSA_SECRET_KEY")
    api_url: AnyHttpUrl = Field(AnyHttpUrl("https://api.yookassa.ru/v3"), alias="YOOKASSA_API_URL")
    return_url: AnyHttpUrl = Field(alias="YOOKASSA_RETURN_URL")
    trusted_networks: Annotated[tuple[str, ...], NoDecode] = Field(
        tuple(SecurityHelper.YOOKASSA_NETWORKS), alias="YOOKASSA_TRUSTED_NETWORKS"
    )
    pending_check_interval_s: float = Field(30.0, alias="YOOKASSA_PENDING_CHECK_S", ge=1.0, le=600.0)

    @field_validator("trusted_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else list(value)
        texts = [str(item).strip() for item in items if str(item).strip()]
        networks = tuple(str(ipaddress.ip_network(text, strict=False)) for text in texts)
        if not networks:
            raise ValueError("at least one trusted network is required")
        return networks


class TrustedNetworks:
    """Decides whether a notification's peer address may be YooKassa."""

    def __init__(self, networks: tuple[str, ...] | list[str]) -> None:
        """Parse the CIDRs once."""
        self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in networks)

    def __contains__(self, address: object) -> bool:
        """True if ``address`` (text) lies in one of the networks; anything unparsable is not trusted."""
        try:
            ip = ipaddress.ip_address(str(address))
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in self.networks)


@dataclass(frozen=True)
class RemotePayment:
    """A payment as YooKassa reports it, reduced to what the order logic checks."""

    payment_id: str
    status: str
    paid: bool
    amount_kopecks: int | None
    currency: str | None
    order_id: str | None
    confirmation_url: str | None
    cancellation_party: str | None
    cancellation_reason: str | None

    @classmethod
    def from_sdk(cls, response: Any) -> RemotePayment:
        """Read the SDK's ``PaymentResponse``."""
        amount = getattr(response, "amount", None)
        metadata = getattr(response, "metadata", None) or {}
        confirmation = getattr(response, "confirmation", None)
        details = getattr(response, "cancellation_details", None)
        return cls(
            payment_id=str(response.id),
            status=str(response.status),
            paid=bool(getattr(response, "paid", False)),
            amount_kopecks=value_to_kopecks(amount.value) if amount is not None else None,
            currency=str(amount.currency) if amount is not None else None,
            order_id=str(metadata["order_id"]) if metadata.get("order_id") else None,
            confirmation_url=getattr(confirmation, "confirmation_url", None) if confirmation else None,
            cancellation_party=str(details.party) if details is not None and details.party else None,
            cancellation_reason=str(details.reason) if details is not None and details.reason else None,
        )


def idempotence_key(order_id: str, operation: str = "create") -> str:
    """The Idempotence-Key for an operation on an order's payment: the same every time, unique per order."""
    return str(uuid.uuid5(_NAMESPACE, f"{operation}:{order_id}"))


class YooKassaGateway:
    """Creates, re-fetches and captures payments for one shop."""

    def __init__(self, settings: YooKassaSettings, *, description: Callable[[Order], str] | None = None) -> None:
        """Bind to a shop; ``description`` words the payment (shown to the buyer by YooKassa)."""
        self.settings = settings
        self._describe = description or (
            lambda order: f"{'Renewal' if order.kind == 'renewal' else 'Bot booking'}, tariff {order.tariff}, "
            f"{order.period_days} days"
        )
        gateway = self

        class _ShopPayment(Payment):  # type: ignore[misc]
            def __init__(self) -> None:
                self.client = gateway._client()

        self._payment = _ShopPayment

    def _client(self) -> ApiClient:
        with _CONFIGURE_LOCK:
            Configuration.configure(
                self.settings.shop_id, self.settings.secret_key.get_secret_value(),
                api_url=str(self.settings.api_url).rstrip("/"),
            )
            return ApiClient()

    async def _run(self, what: str, call: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(call)
        except NotFoundError:
            raise PaymentNotFound(f"YooKassa has no such payment ({what})") from None
        except ApiError as exc:
            content = exc.content or {}
            raise PaymentGatewayError(
                f"YooKassa refused {what}: {content.get('code', 'error')}"
                f" {content.get('description', '')} {content.get('parameter', '')}".strip()
            ) from None
        except (requests.RequestException, OSError, ValueError, AttributeError) as exc:
            # The SDK turns a connection failure into AttributeError (it reads .response of a ConnectionError).
            raise PaymentGatewayError(f"YooKassa could not be reached for {what}: {type(exc).__name__}") from None

    def payment_request(self, order: Order) -> dict[str, Any]:
        """The create-payment body for an order: amount and currency from the order, its id in metadata."""
        return {
            "amount": {"value": kopecks_to_value(order.amount_kopecks), "currency": order.currency},
            "confirmation": {"type": "redirect", "return_url": str(self.settings.return_url)},
            "capture": False,
            "description": self._describe(order)[:128],
            "metadata": {"order_id": order.order_id},
        }

    async def create_payment(self, order: Order) -> RemotePayment:
        """Create (or, on a retry, get back) the order's payment."""
        body = self.payment_request(order)
        key = idempotence_key(order.order_id)
        response = await self._run(
            f"creating the payment of {order.order_id}", lambda: self._payment.create(body, key)
        )
        return RemotePayment.from_sdk(response)

    async def fetch(self, payment_id: str) -> RemotePayment:
        """The payment as YooKassa has it now: the only source believed about a payment."""
        if not payment_id or len(payment_id) > 64:
            raise PaymentNotFound("not a YooKassa payment id")
        response = await self._run(f"reading payment {payment_id}", lambda: self._payment.find_one(payment_id))
        return RemotePayment.from_sdk(response)

    async def capture(self, payment_id: str) -> RemotePayment:
        """Capture an authorised (waiting_for_capture) payment in full; repeating it is harmless."""
        key = idempotence_key(payment_id, "capture")
        response = await self._run(
            f"capturing payment {payment_id}", lambda: self._payment.capture(payment_id, None, key)
        )
        return RemotePayment.from_sdk(response)

    async def cancel(self, payment_id: str) -> RemotePayment:
        """Release an authorised (waiting_for_capture) payment, so the money is never taken; repeating is harmless."""
        key = idempotence_key(payment_id, "cancel")
        response = await self._run(
            f"canceling payment {payment_id}", lambda: self._payment.cancel(payment_id, key)
        )
        return RemotePayment.from_sdk(response)
