"""Prometheus and Alertmanager as ``botpool up`` runs them: the monitoring job on the real test stack.

Prometheus must see every instance of every Consul service tagged ``metrics`` (here: two pool slots)
as a target that is up, and nothing else; Alertmanager must deliver an alert to the operator bot's
webhook, played by a small HTTP server of the test.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web
from consul.aio import Consul

from botpool import jobspec, wiring
from botpool import settings as cfg
from botpool.clients.nomad import NomadClient
from botpool.pool import protocol
from devstack import monitoring, ports
from devstack.stack import Stack
from tests.fixtures.telegram import TelegramStandin
from tests.pool.conftest import _purge

pytestmark = [pytest.mark.stack, pytest.mark.timeout(240)]

SLOTS = 2


@dataclass
class Webhook:
    """The operator bot's webhook as Alertmanager sees it: every notification it posted, in order."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Monitoring:
    """The running monitoring job's addresses, and the Nomad and Consul clients of the test."""

    prometheus: str
    alertmanager: str
    nomad: NomadClient
    consul: Consul


async def _until(check: Callable[[], Awaitable[Any]], what: str, *, timeout_s: float = 150) -> Any:
    """Poll ``check`` until it returns something truthy, as a user refreshing the UI would; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = await check()
        except httpx.HTTPError as exc:
            last = exc
        else:
            if last:
                return last
        await asyncio.sleep(0.5)
    pytest.fail(f"{what} within {timeout_s:.0f} s; last seen: {last!r}")


@pytest.fixture(scope="module")
async def webhook() -> AsyncIterator[Webhook]:
    """An HTTP server that records what Alertmanager posts to the operator bot's URL."""
    port = ports.pick()
    hook = Webhook(f"http://127.0.0.1:{port}/alertmanager")

    async def receive(request: web.Request) -> web.Response:
        hook.received.append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/alertmanager", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield hook
    await runner.cleanup()


@pytest.fixture(scope="module")
async def running(stack: Stack, telegram_standin: TelegramStandin, webhook: Webhook) -> AsyncIterator[Monitoring]:
    """Two pool slots and the monitoring job (what ``botpool up`` submits), stopped and purged afterwards."""
    env = stack.env()
    async with (
        wiring.nomad(cfg.load(cfg.NomadSettings, env)) as nomad,
        wiring.consul(cfg.load(cfg.ConsulSettings, env)) as consul,
    ):
        await _purge(nomad, consul)
        await jobspec.submit_pool(nomad, count=SLOTS, env=stack.slot_env(telegram_standin.base_url))
        addresses = await monitoring.deploy(nomad, stack.state, random_ports=True, operator_webhook_url=webhook.url)
        try:
            await protocol.wait_until(consul, lambda s: len(s.slots) >= SLOTS, timeout_s=180)
            yield Monitoring(addresses["Prometheus"], addresses["Alertmanager"], nomad, consul)
        finally:
            await nomad.stop(jobspec.MONITORING.id, purge=True)
            await _purge(nomad, consul)


async def test_prometheus_scrapes_every_service_tagged_metrics(
    running: Monitoring, stack: Stack, consul_addr: str, consul_management_token: str
) -> None:
    async with httpx.AsyncClient(timeout=5) as client:

        async def slots_up() -> list[dict[str, Any]] | None:
            resp = await client.get(f"{running.prometheus}/api/v1/targets", params={"state": "active"})
            resp.raise_for_status()
            targets: list[dict[str, Any]] = resp.json()["data"]["activeTargets"]
            slots = [t for t in targets if t["labels"].get("service") == "bot-pool-slot"]
            return targets if len(slots) == SLOTS and all(t["health"] == "up" for t in slots) else None

        targets = await _until(slots_up, f"Prometheus did not show {SLOTS} slot targets up")

        # Exactly the instances Consul lists under the tag "metrics", each at its metrics path and allocation.
        headers = {"X-Consul-Token": consul_management_token}
        catalog = (await client.get(f"{consul_addr}/v1/catalog/services", headers=headers)).json()
        tagged = {name for name, tags in catalog.items() if "metrics" in tags}
        assert "bot-pool-slot" in tagged
        assert {"prometheus", "alertmanager"}.isdisjoint(tagged)
        expected = set()
        for name in tagged:
            instances = (await client.get(f"{consul_addr}/v1/catalog/service/{name}",
                                          headers=headers)).json()
            expected |= {(name, f"{i['ServiceAddress'] or i['Address']}:{i['ServicePort']}") for i in instances}
        assert {(t["labels"]["service"], t["labels"]["instance"]) for t in targets} == expected
        slot_allocs = {
            i["ServiceMeta"]["alloc_id"]
            for i in (await client.get(f"{consul_addr}/v1/catalog/service/bot-pool-slot",
                                       headers=headers)).json()
        }
        slots = [t for t in targets if t["labels"]["service"] == "bot-pool-slot"]
        assert {t["labels"]["alloc_id"] for t in slots} == slot_allocs
        assert all(t["scrapeUrl"].endswith("/metrics") for t in slots)

        # What a user sees: the running slots' own metrics are in Prometheus. (Slots of an earlier pool may
        # still show for Prometheus's 5-minute lookback: it was stopped with them, so it never marked their
        # series stale. Only the slots running now are asked for.)
        async def slot_series() -> list[Any] | None:
            query = 'count by (alloc_id) (botpool_slot_state{service="bot-pool-slot"})'
            resp = await client.get(f"{running.prometheus}/api/v1/query", params={"query": query})
            result: list[Any] = resp.json()["data"]["result"]
            return result if slot_allocs <= {r["metric"].get("alloc_id") for r in result} else None

        await _until(slot_series, "the slots' botpool_slot_state series did not appear")

    # What `botpool up` and `botpool status` print: every target up, and both UIs ready.
    seen = await monitoring.wait_targets_up(stack.state)
    assert seen.all_up and seen.total == len(targets), seen.summary()
    assert seen.summary() == f"{len(targets)}/{len(targets)} targets up"
    shown = await monitoring.health(stack.state)
    assert shown["Alertmanager"] == (True, running.alertmanager)
    assert shown["Prometheus"] == (True, f"{running.prometheus}: {seen.summary()}")


async def test_alertmanager_delivers_an_alert_to_the_operator_webhook(running: Monitoring, webhook: Webhook) -> None:
    name = f"BotpoolTest{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=5) as client:

        async def ready() -> bool:
            return (await client.get(f"{running.alertmanager}/-/ready")).status_code == 200

        await _until(ready, "Alertmanager did not answer /-/ready")
        now = datetime.now(UTC)
        alert = {
            "labels": {"alertname": name, "severity": "warning"},
            "annotations": {"summary": "a test alert"},
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(minutes=30)).isoformat(),
        }
        resp = await client.post(f"{running.alertmanager}/api/v2/alerts", json=[alert])
        assert resp.status_code == 200, resp.text

    async def delivered() -> list[dict[str, Any]]:
        # Prometheus's own alerts may arrive too (no reconciler runs here): only this test's group counts.
        return [n for n in webhook.received if n["groupLabels"].get("alertname") == name]

    # alertmanager.yml waits 30 s (group_wait) to batch a new group's alerts before the first notification.
    notifications = await _until(delivered, "the operator webhook received no notification", timeout_s=90)
    assert len(notifications) == 1
    (notification,) = notifications
    assert notification["receiver"] == "operator-bot"
    assert notification["status"] == "firing"
    assert [a["labels"]["alertname"] for a in notification["alerts"]] == [name]
    assert notification["alerts"][0]["status"] == "firing"
