"""Alert events for operators, kept in Consul KV until the operator bot delivers and clears them.

Anything that should wake an operator (a refused token handoff, a pool at its
cap with no free slot) is written here; the operator bot reads the prefix.
Alerts carry identifiers and reasons, never secrets.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from consul.aio import Consul

from botpool.pool import keys
from botpool.pool.model import utcnow


@dataclass(frozen=True)
class Alert:
    """One event: what happened, where, and why."""

    alert_id: str
    kind: str
    message: str
    at: str
    details: dict[str, Any]


async def raise_alert(consul: Consul, kind: str, message: str, **details: Any) -> Alert:
    """Record an alert durably (Consul KV, sorted by time) and return it."""
    now = utcnow()
    alert = Alert(f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}", kind, message, now.isoformat(), details)
    await consul.kv.put(keys.alert(alert.alert_id), json.dumps(asdict(alert)))
    return alert


async def list_alerts(consul: Consul) -> list[Alert]:
    """Every alert not yet cleared, oldest first."""
    _, entries = await consul.kv.get(keys.ALERTS, recurse=True)
    return [Alert(**json.loads(e["Value"])) for e in entries or [] if e.get("Value")]


async def clear(consul: Consul, alert_id: str) -> None:
    """Remove one delivered alert."""
    await consul.kv.delete(keys.alert(alert_id))
