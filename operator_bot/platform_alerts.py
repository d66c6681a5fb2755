"""The platform's own alerts (``botpool.alerts``, in Consul KV under ``botpool/alerts/``), pushed to the admins.

A refused (tampered) token handoff, a failed activation, an unreadable record: the
processes that see these write them to Consul; this watcher follows the prefix with blocking queries,
pushes each new alert to every admin once (``operator_bot.delivery`` remembers it durably, so a restart
does not resend) and then clears it, as ``botpool.alerts`` expects of its reader. An unreadable value is
skipped (and logged), never fatal; a Consul or Telegram outage is waited out.
"""

from __future__ import annotations

import asyncio

import structlog
from consul.aio import Consul

from botpool import alerts
from botpool.clients.consul import is_transient
from botpool.errors import DependencyUnavailable
from botpool.pool import keys
from botpool.pool.model import MalformedRecord
from operator_bot.delivery import Notifier
from operator_bot.texts import OperatorTr

log = structlog.get_logger("operator_bot.platform_alerts")

#: Pause after a failed read or delivery before trying again.
BACKOFF_S = 2.0


def render(tr: OperatorTr, alert: alerts.Alert) -> str:
    """The admins' message: the kind, the sentence the raiser wrote, and the identifiers it attached."""
    details = ", ".join(f"{k}={v}" for k, v in sorted(alert.details.items()))
    return tr("platform_alert", kind=alert.kind, message=alert.message, details=details or "—",
              at=alert.at.strftime("%Y-%m-%d %H:%M:%S UTC"))


async def watch(consul: Consul, notifier: Notifier, tr: OperatorTr, stop: asyncio.Event, *, wait: str = "30s") -> None:
    """Until ``stop``: read the alerts prefix (blocking), push what is new, clear what was delivered."""
    index: int | None = None
    while not stop.is_set():
        try:
            new_index, entries = await consul.kv.get(keys.ALERTS, recurse=True, index=index, wait=wait)
            pending = False
            for entry in entries or []:
                if not entry.get("Value"):
                    continue
                try:
                    alert = alerts.Alert.decode(entry["Value"])
                except MalformedRecord as exc:
                    log.warning("unreadable alert skipped", key=entry["Key"], error=str(exc))
                    continue
                try:
                    await notifier.push(f"kv-{alert.alert_id}", render(tr, alert))
                except DependencyUnavailable:
                    pending = True  # some admin not told yet: keep the alert, read again after a pause
                    continue
                await consul.kv.delete(entry["Key"], cas=int(entry["ModifyIndex"]))
            index = int(new_index) if new_index is not None and int(new_index) >= (index or 0) else None
            if pending:
                index = None
                await _pause(stop)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            (log.info if is_transient(exc) else log.error)("alert watch failed; retrying", error=repr(exc)[:300])
            index = None
            await _pause(stop)


async def _pause(stop: asyncio.Event) -> None:
    try:
        async with asyncio.timeout(BACKOFF_S):
            await stop.wait()
    except TimeoutError:
        pass
