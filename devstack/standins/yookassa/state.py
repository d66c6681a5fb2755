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
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from devstack.standins.yookassa.model import (
    ApiError,
    ControlError,
    JsonDict,
    Payment,
    Shop,
    invalid,
    new_payment_id,
    not_found,
    parse_amount,
    parse_metadata,
    utcnow,
)

#: How long an authorised two-stage payment waits for capture before YooKassa cancels it (7 days for cards).
CAPTURE_WINDOW = timedelta(days=7)
#: How long YooKassa remembers an Idempotence-Key.
IDEMPOTENCE_TTL = timedelta(hours=24)
#: YooKassa's limit on the Idempotence-Key header.
IDEMPOTENCE_KEY_MAX = 64
#: Cancellation reasons the customer side can produce (a subset of YooKassa's documented list).
CUSTOMER_CANCEL_REASONS = frozenset({
    "3d_secure_failed", "call_issuer", "card_expired", "country_forbidden", "expired_on_confirmation",
    "fraud_suspected", "general_decline", "identification_required", "insufficient_funds",
    "invalid_card_number", "invalid_csc", "issuer_unavailable", "payment_method_limit_exceeded",
    "payment_method_restricted", "rejected_by_timeout", "internal_timeout", "expired_on_capture",
})


@dataclass
class _Remembered:
    """A successful answer kept for its Idempotence-Key, with the body it answered."""

    fingerprint: str
    response: JsonDict
    at: datetime


def fingerprint(body: Any) -> str:
    """A digest of a request body independent of key order, to tell "same request" from "other request"."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


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
            metadata=parse_metadata(body.get("metadata")), capture=capture, return_url=return_url,
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
