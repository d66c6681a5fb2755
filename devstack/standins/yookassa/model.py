"""YooKassa's objects as the stand-in keeps them: shops, payments, their validation and YooKassa's errors.

A payment renders exactly as the v3 API and notifications carry it (``Payment.to_json``); amounts and
metadata are validated with YooKassa's rules and words, so the SDK and the merchant code meet the same
refusals they would in production. The rules that move payments live in ``state.World``.
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

JsonDict = dict[str, Any]

_AMOUNT = re.compile(r"^\d{1,10}(\.\d{1,2})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


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


def new_payment_id() -> str:
    """An id shaped like YooKassa's (``2d8c2b3e-000f-5000-9000-1b4d1e2a5c3f``)."""
    raw = uuid.uuid4().hex
    return f"{raw[:8]}-000f-5000-{'89ab'[secrets.randbelow(4)]}{raw[8:11]}-{raw[11:23]}"


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


def parse_metadata(data: Any) -> JsonDict:
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
