"""The simulated YooKassa: shops, payments, idempotency records and the rules that move a payment.

Everything the HTTP layers (the v3 API the SDK calls, the control API tests call) do goes through this
one object, so both views always agree and every rule (which status may follow which, what a repeated
Idempotence-Key means) lives in one place. It is plain in-memory state: the stand-in serves one test
run or one local stack and forgets everything when it stops, as a fresh test shop would.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

JsonDict = dict[str, Any]

#: How long an authorised two-stage payment waits for capture before YooKassa cancels it (7 days for cards).
CAPTURE_WINDOW = timedelta(days=7)
#: How long YooKassa remembers an Idempotence-Key.
IDEMPOTENCE_TTL = timedelta(hours=24)
#: YooKassa's limit on the Idempotence-Key header.
IDEMPOTENCE_KEY_MAX = 64
_AMOUNT = re.compile(r"^\d{1,10}(\.\d{1,2})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
#: Cancellation reasons the customer side can produce (a subset of YooKassa's documented list).
CUSTOMER_CANCEL_REASONS = frozenset({
    "3d_secure_failed", "call_issuer", "card_expired", "country_forbidden", "expired_on_confirmation",
    "fraud_suspected", "general_decline", "identification_required", "insufficient_funds",
    "invalid_card_number", "invalid_csc", "issuer_unavailable", "payment_method_limit_exceeded",
    "payment_method_restricted", "rejected_by_timeout", "internal_timeout", "expired_on_capture",
})


def utcnow() -> datetime:
    """The current time, timezone-aware, because YooKassa reports UTC timestamps."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Format a moment the way YooKassa does: UTC with milliseconds and a ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class ApiError(Exception):
    """A refusal in YooKassa's error format: HTTP status, ``code``, ``description`` and the offending ``parameter``."""

    def __init__(self, status: int, code: str, description: str, parameter: str | None = None) -> None:
        """Keep the parts of YooKassa's error object."""
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description
        self.parameter = parameter

    def body(self) -> JsonDict:
        """The JSON body YooKassa returns for this error (the SDK parses it into its exception classes)."""
        data: JsonDict = {"type": "error", "id": str(uuid.uuid4()), "code": self.code, "description": self.description}
        if self.parameter:
            data["parameter"] = self.parameter
        return data


def invalid(description: str, parameter: str | None = None) -> ApiError:
    """A 400 ``invalid_request``, YooKassa's answer to a malformed request."""
    return ApiError(400, "invalid_request", description, parameter)


def not_found() -> ApiError:
    """A 404 for a payment that does not exist or belongs to another shop (YooKassa does not tell which)."""
    return ApiError(404, "not_found", "Incorrect payment_id. Payment doesn't exist or access denied.", "payment_id")


class ControlError(Exception):
    """A refused control-API request (unknown payment, wrong status, bad input) with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        """Keep the status and the reason for the control route to report."""
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Shop:
    """A YooKassa shop: its credentials and where (and from which address) its notifications go."""

    shop_id: str
    secret_key: str
    notification_url: str | None = None
    source_address: str = "127.0.0.1"

    def to_json(self) -> JsonDict:
        """The shop for the control API; the secret key is included because the control API creates it."""
        return {
            "shop_id": self.shop_id, "secret_key": self.secret_key,
            "notification_url": self.notification_url, "source_address": self.source_address,
        }


@dataclass
class Payment:
    """One payment as YooKassa keeps it; ``to_json`` renders the API object."""

    id: str
    shop_id: str
    amount: Decimal
    currency: str
    description: str | None
    metadata: JsonDict
    capture: bool
    return_url: str
    confirmation_url: str
    created_at: datetime
    status: str = "pending"
    captured_amount: Decimal | None = None
    captured_at: datetime | None = None
    expires_at: datetime | None = None
    cancellation_details: JsonDict | None = None
    payment_method: JsonDict | None = None

    def to_json(self) -> JsonDict:
        """The payment object exactly as the v3 API and notifications carry it."""
        paid = self.status in ("waiting_for_capture", "succeeded")
        amount = self.captured_amount if self.captured_amount is not None else self.amount
        data: JsonDict = {
            "id": self.id,
            "status": self.status,
            "paid": paid,
            "amount": {"value": f"{amount:.2f}", "currency": self.currency},
            "created_at": iso(self.created_at),
            "metadata": dict(self.metadata),
            "recipient": {"account_id": self.shop_id, "gateway_id": "100700"},
            "refundable": self.status == "succeeded",
            "test": True,
        }
        if self.description is not None:
            data["description"] = self.description
        if self.status == "pending":
            data["confirmation"] = {
                "type": "redirect", "return_url": self.return_url, "confirmation_url": self.confirmation_url,
            }
        if self.payment_method is not None:
            data["payment_method"] = dict(self.payment_method)
        if self.status == "succeeded":
            income = (amount * Decimal("0.965")).quantize(Decimal("0.01"))
            data["income_amount"] = {"value": f"{income:.2f}", "currency": self.currency}
            data["refunded_amount"] = {"value": "0.00", "currency": self.currency}
            if self.captured_at is not None:
                data["captured_at"] = iso(self.captured_at)
        if self.status == "waiting_for_capture" and self.expires_at is not None:
            data["expires_at"] = iso(self.expires_at)
        if self.status == "canceled" and self.cancellation_details is not None:
            data["cancellation_details"] = dict(self.cancellation_details)
        return data


@dataclass
class _Remembered:
    fingerprint: str
    response: JsonDict
    at: datetime


def new_payment_id() -> str:
    """An id shaped like YooKassa's (``2d8c2b3e-000f-5000-9000-1b4d1e2a5c3f``)."""
    raw = uuid.uuid4().hex
    return f"{raw[:8]}-000f-5000-{'89ab'[secrets.randbelow(4)]}{raw[8:11]}-{raw[11:23]}"


def fingerprint(body: Any) -> str:
    """A digest of a request body independent of key order, to tell "same request" from "other request"."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def parse_amount(data: Any, parameter: str = "amount") -> tuple[Decimal, str]:
    """Validate an ``{value, currency}`` object as YooKassa does and return it as Decimal and currency."""
    if not isinstance(data, dict):
        raise invalid("Amount is required", parameter)
    raw = data.get("value")
    text = str(raw) if isinstance(raw, str | int | float) and not isinstance(raw, bool) else ""
    if not _AMOUNT.match(text):
        raise invalid("Invalid amount value", f"{parameter}.value")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise invalid("Invalid amount value", f"{parameter}.value") from None
    if value <= 0:
        raise invalid("Amount value must be greater than zero", f"{parameter}.value")
    currency = data.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise invalid("Invalid currency", f"{parameter}.currency")
    return value, currency


def _metadata(data: Any) -> JsonDict:
    """Validate ``metadata``: at most 16 string keys of up to 32 characters, values up to 512 characters."""
    if data is None:
        return {}
    if not isinstance(data, dict) or len(data) > 16:
        raise invalid("Metadata must be an object of at most 16 keys", "metadata")
    out: JsonDict = {}
    for key, value in data.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 32:
            raise invalid("Metadata key must be 1-32 characters", "metadata")
        if value is not None and len(str(value)) > 512:
            raise invalid("Metadata value must be at most 512 characters", "metadata")
        out[key] = None if value is None else str(value)
    return out


@dataclass
class World:
    """All shops and payments, plus the hook that hands each status change to notification delivery."""

    shops: dict[str, Shop] = field(default_factory=dict)
    payments: dict[str, Payment] = field(default_factory=dict)
    remembered: dict[tuple[str, str, str], _Remembered] = field(default_factory=dict)
    on_event: Callable[[Shop, str, JsonDict], object] | None = None
    _tick: asyncio.Event = field(default_factory=asyncio.Event)

    def touch(self) -> None:
        """Wake everyone waiting for a change (a payment created or moved, a delivery attempted)."""
        self._tick.set()
        self._tick = asyncio.Event()

    async def wait_change(self, timeout: float) -> bool:  # noqa: ASYNC109 - a long poll's budget
        """Wait until the next change or the timeout; True when something changed."""
        tick = self._tick
        try:
            await asyncio.wait_for(tick.wait(), timeout)
        except TimeoutError:
            return False
        return True

    # --- shops and authentication ---------------------------------------------------------------

    def upsert_shop(
        self, shop_id: str | None = None, secret_key: str | None = None, *,
        notification_url: str | None = None, source_address: str | None = None,
    ) -> Shop:
        """Create a shop (generating missing credentials) or update its notification settings."""
        shop_id = shop_id or str(100_000 + secrets.randbelow(900_000))
        shop = self.shops.get(shop_id)
        if shop is None:
            shop = Shop(shop_id, secret_key or f"test_{secrets.token_urlsafe(32)}")
            self.shops[shop_id] = shop
        elif secret_key:
            shop.secret_key = secret_key
        if notification_url is not None:
            shop.notification_url = notification_url or None
        if source_address:
            shop.source_address = source_address
        return shop

    def authenticate(self, shop_id: str | None, secret_key: str | None) -> Shop:
        """Return the shop the Basic credentials name, or refuse with YooKassa's 401."""
        shop = self.shops.get(shop_id or "")
        if shop is None or secret_key is None or not secrets.compare_digest(shop.secret_key, secret_key):
            raise ApiError(
                401, "invalid_credentials",
                "Login has invalid format or password is incorrect. Check your shopId and secret key.",
                "Authorization",
            )
        return shop

    # --- idempotence ------------------------------------------------------------------------------

    def replay(self, shop: Shop, route: str, key: str | None, body: Any) -> JsonDict | None:
        """The remembered answer to a repeated request, None for a new one, or YooKassa's error for a reused key.

        A key is remembered per shop and route for 24 hours; only successful answers are remembered, so a
        request that failed validation can be corrected and retried with the same key, as YooKassa allows.
        """
        if not key:
            raise invalid("Idempotence key is empty", "Idempotence-Key")
        if len(key) > IDEMPOTENCE_KEY_MAX:
            raise invalid(f"Idempotence key must be at most {IDEMPOTENCE_KEY_MAX} characters", "Idempotence-Key")
        seen = self.remembered.get((shop.shop_id, route, key))
        if seen is None or utcnow() - seen.at > IDEMPOTENCE_TTL:
            return None
        if seen.fingerprint != fingerprint(body):
            raise invalid("Idempotence key duplicated", "Idempotence-Key")
        return seen.response

    def remember(self, shop: Shop, route: str, key: str, body: Any, response: JsonDict) -> None:
        """Keep a successful answer so the same key and body get it again."""
        self.remembered[(shop.shop_id, route, key)] = _Remembered(fingerprint(body), response, utcnow())

    # --- the merchant's side (v3 API) ---------------------------------------------------------------

    def create_payment(self, shop: Shop, body: Any, checkout_base: str) -> Payment:
        """Validate a create-payment request and record a pending payment with a redirect confirmation."""
        if not isinstance(body, dict):
            raise invalid("Request body must be a JSON object")
        amount, currency = parse_amount(body.get("amount"))
        confirmation = body.get("confirmation")
        if not isinstance(confirmation, dict) or confirmation.get("type") != "redirect":
            raise invalid("Only the redirect confirmation type is supported here", "confirmation.type")
        return_url = confirmation.get("return_url")
        if not isinstance(return_url, str) or not return_url.startswith(("http://", "https://")):
            raise invalid("Invalid return_url", "confirmation.return_url")
        description = body.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 128):
            raise invalid("Description must be a string of at most 128 characters", "description")
        capture = body.get("capture", False)
        if not isinstance(capture, bool):
            raise invalid("capture must be a boolean", "capture")
        payment_id = new_payment_id()
        payment = Payment(
            id=payment_id, shop_id=shop.shop_id, amount=amount, currency=currency, description=description,
            metadata=_metadata(body.get("metadata")), capture=capture, return_url=return_url,
            confirmation_url=f"{checkout_base}/checkout/{payment_id}", created_at=utcnow(),
        )
        self.payments[payment_id] = payment
        self.touch()
        return payment

    def get(self, shop: Shop, payment_id: str) -> Payment:
        """A payment of this shop, or YooKassa's 404 (another shop's payment is "not found" too)."""
        payment = self.payments.get(payment_id)
        if payment is None or payment.shop_id != shop.shop_id:
            raise not_found()
        return payment

    def capture(self, shop: Shop, payment_id: str, body: Any) -> Payment:
        """Capture an authorised payment, fully or for a smaller amount; only ``waiting_for_capture`` may be."""
        payment = self.get(shop, payment_id)
        if payment.status == "succeeded":
            return payment
        if payment.status != "waiting_for_capture":
            raise invalid(
                f"Payment is in {payment.status} status. Only a payment in waiting_for_capture status can be captured",
                "payment_id",
            )
        amount = payment.amount
        if isinstance(body, dict) and body.get("amount") is not None:
            amount, currency = parse_amount(body["amount"])
            if currency != payment.currency or amount > payment.amount:
                raise invalid("Capture amount must not exceed the payment amount, in its currency", "amount")
        payment.captured_amount = amount
        self._move(payment, "succeeded")
        return payment

    def cancel(self, shop: Shop, payment_id: str) -> Payment:
        """The merchant cancels an authorised payment (the money returns to the customer)."""
        payment = self.get(shop, payment_id)
        if payment.status == "canceled":
            return payment
        if payment.status != "waiting_for_capture":
            raise invalid(
                f"Payment is in {payment.status} status. Only a payment in waiting_for_capture status can be canceled",
                "payment_id",
            )
        self._cancel(payment, "merchant", "canceled_by_merchant")
        return payment

    # --- the customer's side (control API, checkout page) -------------------------------------------

    def find(self, payment_id: str) -> Payment:
        """Any payment by id, for the control API (which plays YooKassa's own staff and the customer)."""
        payment = self.payments.get(payment_id)
        if payment is None:
            raise ControlError(404, f"no payment {payment_id}")
        return payment

    def customer_pays(self, payment_id: str) -> Payment:
        """The customer completes the payment page: succeeded (capture=true) or waiting_for_capture."""
        payment = self.find(payment_id)
        if payment.status != "pending":
            raise ControlError(409, f"payment {payment_id} is {payment.status}, not pending")
        payment.payment_method = {
            "type": "bank_card", "id": payment.id, "saved": False, "title": "Bank card *4477",
            "card": {"first6": "555555", "last4": "4477", "expiry_year": "2030", "expiry_month": "12",
                     "card_type": "MasterCard", "issuer_country": "RU"},
        }
        if payment.capture:
            payment.captured_amount = payment.amount
            self._move(payment, "succeeded")
        else:
            payment.expires_at = utcnow() + CAPTURE_WINDOW
            self._move(payment, "waiting_for_capture")
        return payment

    def customer_cancels(
        self, payment_id: str, reason: str = "expired_on_confirmation", party: str | None = None
    ) -> Payment:
        """The payment fails on YooKassa's side: the customer gave up, the bank declined, or time ran out."""
        payment = self.find(payment_id)
        if payment.status not in ("pending", "waiting_for_capture"):
            raise ControlError(409, f"payment {payment_id} is {payment.status}; it can no longer be canceled")
        if reason not in CUSTOMER_CANCEL_REASONS:
            raise ControlError(400, f"unknown cancellation reason {reason!r}")
        bank_side = reason in ("insufficient_funds", "call_issuer", "card_expired")
        default_party = "payment_network" if bank_side else "yoo_money"
        self._cancel(payment, party or default_party, reason)
        return payment

    # --- internals ------------------------------------------------------------------------------------

    def _cancel(self, payment: Payment, party: str, reason: str) -> None:
        payment.cancellation_details = {"party": party, "reason": reason}
        self._move(payment, "canceled")

    def _move(self, payment: Payment, status: str) -> None:
        payment.status = status
        if status == "succeeded":
            payment.captured_at = utcnow()
        shop = self.shops.get(payment.shop_id)
        if shop is not None and self.on_event is not None:
            self.on_event(shop, f"payment.{status}", payment.to_json())
        self.touch()
