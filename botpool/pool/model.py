"""The values stored under the pool's Consul keys, as typed, JSON-serialisable records."""

from __future__ import annotations

import enum
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

TENANT_ID = re.compile(r"^t_[a-z0-9]{6,40}$")


def utcnow() -> datetime:
    """Aware UTC now: every timestamp botpool stores is UTC."""
    return datetime.now(UTC)


def validate_tenant_id(tenant_id: str) -> str:
    """Tenant ids become schema, role, Redis user and key names, so their shape is strict."""
    if not TENANT_ID.match(tenant_id):
        raise ValueError(f"invalid tenant id {tenant_id!r}: expected t_ followed by 6-40 of [a-z0-9]")
    return tenant_id


class SlotMode(enum.StrEnum):
    """What a slot is doing; shown in Consul (KV and check output) and by ``botpool status``."""

    WAITING = "waiting"
    ACTIVATING = "activating"
    ACTIVE = "active"
    DRAINING = "draining"


@dataclass
class SlotState:
    """What a slot publishes about itself under ``slots/<index>``."""

    index: int
    alloc_id: str
    mode: SlotMode
    session: str
    started_at: str
    tenant_id: str | None = None
    bot_username: str | None = None
    activated_at: str | None = None
    attempt: str | None = None
    error: str | None = None
    modify_index: int = field(default=0, compare=False)

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("modify_index")
        return json.dumps(data)

    @classmethod
    def from_kv(cls, entry: dict[str, Any]) -> SlotState:
        data = json.loads(entry["Value"])
        data["mode"] = SlotMode(data["mode"])
        return cls(**data, modify_index=int(entry["ModifyIndex"]))


class ClaimKind(enum.StrEnum):
    """A claim either assigns a tenant or fences a slot the scaler is about to remove."""

    TENANT = "tenant"
    FENCE = "fence"


@dataclass
class Claim:
    """An assignment placed on a slot; ``wrap_token`` is a single-use Vault wrapping token."""

    kind: ClaimKind
    attempt: str
    slot_session: str
    alloc_id: str
    claimed_at: str
    tenant_id: str | None = None
    wrap_token: str | None = None
    reason: str | None = None
    modify_index: int = field(default=0, compare=False)

    def __repr__(self) -> str:
        # The wrapping token never appears in a repr, a log line or an exception.
        return (
            f"Claim(kind={self.kind.value}, tenant_id={self.tenant_id!r}, attempt={self.attempt!r}, "
            f"alloc_id={self.alloc_id!r})"
        )

    def to_json(self) -> str:
        data = asdict(self)
        data.pop("modify_index")
        return json.dumps(data)

    @classmethod
    def from_kv(cls, entry: dict[str, Any]) -> Claim:
        data = json.loads(entry["Value"])
        data["kind"] = ClaimKind(data["kind"])
        return cls(**data, modify_index=int(entry["ModifyIndex"]))
