"""Alert events for operators, kept in Consul KV until the operator bot delivers and clears them.

Anything that should wake an operator (a refused token handoff, a pool at its
cap with no free slot, an unreadable record in the pool) is written here; the
operator bot reads the prefix. Alerts carry identifiers and reasons, never secrets.
"""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from consul.aio import Consul
from pydantic import ConfigDict, Field

from botpool.pool import keys
from botpool.pool.model import MalformedRecord, Record, UtcDatetime, utcnow

log = structlog.get_logger("botpool.alerts")


class Alert(Record):
    """One event: what happened, where, and why (stored as JSON under ``alerts/<alert_id>``)."""

    model_config = ConfigDict(frozen=True)  # merged with Record's decoding rules

    alert_id: str
    kind: str
    message: str
    at: UtcDatetime
    details: dict[str, Any] = Field(default_factory=dict)


def _new(kind: str, message: str, alert_id: str | None, details: dict[str, Any]) -> Alert:
    now = utcnow()
    return Alert(
        alert_id=alert_id or f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}", kind=kind, message=message, at=now,
        details=details,
    )


async def raise_alert(consul: Consul, kind: str, message: str, **details: Any) -> Alert:
    """Record an alert durably (Consul KV, sorted by time) and return it."""
    alert = _new(kind, message, None, details)
    await consul.kv.put(keys.alert(alert.alert_id), alert.model_dump_json())
    return alert


async def raise_alert_once(consul: Consul, alert_id: str, kind: str, message: str, **details: Any) -> Alert | None:
    """Record an alert under a fixed id unless one is already there; None if it was.

    For a condition every process sees at once (an unreadable key in the pool):
    the id names the condition, and the check-and-set create makes the alert
    appear once across all processes rather than once per reader.
    """
    alert = _new(kind, message, alert_id, details)
    created = await consul.kv.put(keys.alert(alert.alert_id), alert.model_dump_json(), cas=0)
    return alert if created else None


async def list_alerts(consul: Consul) -> list[Alert]:
    """Every readable alert not yet cleared, oldest first (an unreadable one is logged and skipped)."""
    _, entries = await consul.kv.get(keys.ALERTS, recurse=True)
    found: list[Alert] = []
    for entry in entries or []:
        if not entry.get("Value"):
            continue
        try:
            found.append(Alert.decode(entry["Value"]))
        except MalformedRecord as exc:
            log.warning("unreadable alert skipped", key=entry["Key"], error=str(exc))
    return sorted(found, key=lambda a: a.at)


async def clear(consul: Consul, alert_id: str) -> None:
    """Remove one delivered alert."""
    await consul.kv.delete(keys.alert(alert_id))
