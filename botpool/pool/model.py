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

from botpool.pool import keys

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
            raise cls.malformed(exc) from None

    @classmethod
    def malformed(cls, exc: ValidationError) -> MalformedRecord:
        """The ``MalformedRecord`` for a failed validation: the fields at fault and why, never their values."""
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'value'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_context=False, include_input=False)
        )
        return MalformedRecord(f"unreadable {cls.__name__}: {problems}")


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


class SlotState(Record):
    """What a slot publishes about itself: the meta of its own catalog node, ``slot-<alloc_id>``.

    A catalog node rather than a key because a node is the one thing Consul lets
    a token write for a name computed from its login: the slot's token carries
    the node identity ``slot-<its allocation id>`` and nothing else writable, so
    no slot can publish, change or delete another slot's state. Node meta holds
    strings only; every field is written as its JSON text and read back typed.
    """

    index: int
    alloc_id: str
    mode: SlotMode
    #: This incarnation of the slot process (a fresh random id at every start): a claim names it, so a
    #: restarted process never consumes a claim meant for the one before it. Called ``session`` on the
    #: wire, which claims have always carried as ``slot_session``.
    session: str
    started_at: UtcDatetime
    tenant_id: str | None = None
    bot_username: str | None = None
    activated_at: UtcDatetime | None = None
    attempt: str | None = None
    error: str | None = None
    #: The node's ``ModifyIndex`` when read, never published.
    modify_index: int = Field(default=0, exclude=True)

    @classmethod
    def from_node(cls, node: dict[str, Any]) -> Self:
        """Decode a catalog node's meta; ``MalformedRecord`` if it is not a slot's state, or names another allocation.

        The node's name is the authenticated part (only that allocation's token can write it), so a state
        whose ``alloc_id`` differs from the name is refused rather than believed.
        """
        meta = {k: v for k, v in (node.get("Meta") or {}).items() if k in cls.model_fields}
        try:
            record = cls.model_validate(meta)
        except ValidationError as exc:
            raise cls.malformed(exc) from None
        if keys.slot_node(record.alloc_id) != node.get("Node"):
            raise MalformedRecord(f"unreadable {cls.__name__}: names another allocation than its node")
        record.modify_index = int(node.get("ModifyIndex", 0))
        return record

    def to_meta(self) -> dict[str, str]:
        """The node meta to publish: each set field as its JSON text (meta values are strings of at most 512)."""
        meta = dict([keys.SLOT_NODE_META])
        for name, value in self.model_dump(mode="json", exclude_none=True).items():
            meta[name] = value if isinstance(value, str) else str(value)
        return meta


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
