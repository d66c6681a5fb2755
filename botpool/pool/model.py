"""The values stored under the pool's Consul keys, as typed, validated JSON records.

Every record is a pydantic model so a value is checked where it enters (read
from Consul), timestamps are aware UTC datetimes rather than strings each
reader parses its own way, and the wire format is the one botpool has always
written: the same field names, timestamps as ISO 8601 strings. Unknown fields
are ignored and optional ones may be missing, so processes of two versions
read each other's records during a rolling upgrade. A value that still cannot
be read raises ``MalformedRecord``, whose message names the fields at fault but
never echoes the value (a claim of an earlier version carried a wrapping token).
"""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
)

TENANT_ID = re.compile(r"^t_[a-z0-9]{6,40}$")


def utcnow() -> datetime:
    """Aware UTC now: every timestamp botpool stores is UTC."""
    return datetime.now(UTC)


def validate_tenant_id(tenant_id: str) -> str:
    """Tenant ids become schema, role, Redis user and key names, so their shape is strict."""
    if not TENANT_ID.match(tenant_id):
        raise ValueError(f"invalid tenant id {tenant_id!r}: expected t_ followed by 6-40 of [a-z0-9]")
    return tenant_id


#: An aware datetime normalised to UTC, written as ``datetime.isoformat()`` writes it (``...+00:00``),
#: byte for byte what earlier versions stored, so they can still ``fromisoformat`` it.
UtcDatetime = Annotated[
    AwareDatetime,
    AfterValidator(lambda value: value.astimezone(UTC)),
    PlainSerializer(lambda value: value.isoformat(), return_type=str, when_used="json"),
]


class MalformedRecord(ValueError):
    """A stored value is not a readable record; the message names the fields, never the value (it may hold a secret)."""


class Record(BaseModel):
    """Shared decoding rules: unknown fields ignored (mixed versions), inputs kept out of error messages."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    @classmethod
    def decode(cls, value: str | bytes) -> Self:
        """Parse one stored JSON value, turning any failure into a ``MalformedRecord`` without the value in it."""
        try:
            return cls.model_validate_json(value)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
                for error in exc.errors(include_url=False, include_context=False, include_input=False)
            )
            raise MalformedRecord(f"unreadable {cls.__name__}: {problems}") from None


class KvRecord(Record):
    """A record stored under a pool key, remembering the ``ModifyIndex`` it was read at (for check-and-set)."""

    #: Consul's index of the read, never part of the stored JSON.
    modify_index: int = Field(default=0, exclude=True)

    @classmethod
    def from_kv(cls, entry: dict[str, Any]) -> Self:
        """Decode a Consul KV entry (``Value`` and ``ModifyIndex``); ``MalformedRecord`` if it is not one."""
        value = entry.get("Value")
        if value is None:
            raise MalformedRecord(f"unreadable {cls.__name__}: the key has no value")
        record = cls.decode(value)
        record.modify_index = int(entry["ModifyIndex"])
        return record

    def to_json(self) -> str:
        """The value to store in Consul: every field but ``modify_index`` (no record holds a secret)."""
        return self.model_dump_json()


class SlotMode(enum.StrEnum):
    """What a slot is doing; shown in Consul (KV and check output) and by ``botpool status``."""

    WAITING = "waiting"
    ACTIVATING = "activating"
    ACTIVE = "active"
    DRAINING = "draining"


class SlotState(KvRecord):
    """What a slot publishes about itself under ``slots/<index>``."""

    index: int
    alloc_id: str
    mode: SlotMode
    session: str
    started_at: UtcDatetime
    tenant_id: str | None = None
    bot_username: str | None = None
    activated_at: UtcDatetime | None = None
    attempt: str | None = None
    error: str | None = None


class ClaimKind(enum.StrEnum):
    """A claim either assigns a tenant or fences a slot the scaler is about to remove."""

    TENANT = "tenant"
    FENCE = "fence"


class Claim(KvRecord):
    """An assignment placed on a slot: which tenant, which attempt, which allocation; never a secret.

    Everything under ``botpool/`` in Consul is readable by every slot, so the
    wrapping token travels through Vault to the named allocation alone
    (``botpool.pool.handoff``). A claim written by an earlier version still
    decodes: its ``wrap_token`` field is ignored like any unknown field, so it
    is neither kept in memory nor written back.
    """

    kind: ClaimKind
    attempt: str
    slot_session: str
    alloc_id: str
    claimed_at: UtcDatetime
    tenant_id: str | None = None
    reason: str | None = None


def tenant_slot_index(entry: dict[str, Any]) -> int:
    """The slot index in a ``tenants/<id>`` value: a bare decimal number, not JSON, as it always was.

    ``MalformedRecord`` if it is not a non-negative integer, so a reader skips the key like any other bad value.
    """
    value = entry.get("Value")
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value or "")
    if not text.strip().isdecimal() or not text.strip().isascii():
        raise MalformedRecord("unreadable tenant key: expected a slot index (a non-negative integer)")
    return int(text)
