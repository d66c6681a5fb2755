"""Alerts reach every admin once: Alertmanager's webhook (firing, then resolved, whatever it repeats) and the
platform's own alerts in Consul KV; a malformed webhook body is refused and sends nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from botpool import alerts
from botpool.pool import keys
from tests.operator.conftest import Chat, OperatorBot, PoolJob

pytestmark = pytest.mark.stack


def _webhook(name: str, status: str, started: datetime, fingerprint: str) -> dict[str, Any]:
    alert = {
        "status": status, "labels": {"alertname": name, "severity": "warning", "job": "pool-scaler"},
        "annotations": {"summary": f"{name} summary"}, "startsAt": started.isoformat(),
        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph", "fingerprint": fingerprint,
    }
    return {
        "version": "4", "groupKey": "{}:{alertname=\"x\"}", "truncatedAlerts": 0, "status": status,
        "receiver": "operator-bot", "groupLabels": {"alertname": name}, "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"], "externalURL": "http://alertmanager", "alerts": [alert],
    }


async def _count(chat: Chat, text: str) -> int:
    return sum(1 for m in await chat.messages() if text in (m.get("text") or ""))


async def test_an_alertmanager_alert_reaches_each_admin_once_and_resolves_once(
    operator_bot: OperatorBot, admin: Chat, other_admin: Chat
) -> None:
    name = f"PoolUtilisationHigh{uuid.uuid4().hex[:6]}"
    started = datetime.now(UTC).replace(microsecond=0)
    fingerprint = uuid.uuid4().hex[:16]
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(2):  # Alertmanager repeats a firing alert (repeat_interval) and retries a webhook
            firing = _webhook(name, "firing", started, fingerprint)
            response = await client.post(operator_bot.alertmanager_url, json=firing)
            assert response.status_code == 200, response.text
        for chat in (admin, other_admin):
            await chat.expect(name)
            assert await _count(chat, f"🔥 {name}") == 1
        for _ in range(2):
            response = await client.post(
                operator_bot.alertmanager_url, json=_webhook(name, "resolved", started, fingerprint)
            )
            assert response.status_code == 200, response.text
    for chat in (admin, other_admin):
        await chat.expect(f"✅ resolved: {name}")
        assert await _count(chat, name) == 2  # one firing, one resolved


@pytest.mark.parametrize("body", [
    b"not json at all",
    b'{"version": "4", "status": "firing", "alerts": []}',
    b'{"version": "3", "status": "firing", "alerts": [{"status": "firing", "labels": {}, "startsAt": "x"}]}',
])
async def test_a_malformed_webhook_is_refused_and_sends_nothing(
    operator_bot: OperatorBot, admin: Chat, body: bytes
) -> None:
    name = f"Malformed{uuid.uuid4().hex[:6]}"
    payload = body.replace(b'"labels": {}', b'"labels": {"alertname": "' + name.encode() + b'"}')
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(operator_bot.alertmanager_url, content=payload,
                                     headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "Alertmanager" in response.json()["error"]
    assert await _count(admin, name) == 0


async def test_a_tampered_handoff_alert_reaches_each_admin_once(
    operator_bot: OperatorBot, pool: PoolJob, admin: Chat, other_admin: Chat
) -> None:
    tenant_id = f"t_{uuid.uuid4().hex[:12]}"
    raised = await alerts.raise_alert(
        pool.consul, "handoff_refused", f"slot 2 refused the token handoff for {tenant_id}",
        slot=2, tenant_id=tenant_id, reason="the wrapping token was already unwrapped",
    )
    for chat in (admin, other_admin):
        message = await chat.expect(tenant_id)
        assert "handoff_refused" in message["text"]
    # Delivered and cleared: the alert leaves Consul (a blocking query waits for that), the delivery is
    # remembered for each admin.
    async with asyncio.timeout(30):
        index, entry = await pool.consul.kv.get(keys.alert(raised.alert_id))
        while entry is not None:
            index, entry = await pool.consul.kv.get(keys.alert(raised.alert_id), index=index, wait="5s")
    _, markers = await pool.consul.kv.get(f"botpool/operator-bot/sent/kv-{raised.alert_id}/", recurse=True)
    assert len(markers or []) == 2
    for chat in (admin, other_admin):
        assert await _count(chat, tenant_id) == 1
