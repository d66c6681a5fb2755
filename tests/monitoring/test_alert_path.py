"""The standard alert path end to end: a pool filled past 80 % tells each admin once, and once when it clears.

Everything is the real thing on the test stack: the ``bot-pool`` job, the ``pool-scaler`` job (which
registers its ``/metrics`` in Consul with the tag Prometheus discovers), the monitoring job (Prometheus
evaluating monitoring/rules/botpool.rules.yml, Alertmanager with monitoring/alertmanager.yml) and the
operator bot as a process, talking to admins in the Telegram stand-in. Only durations differ from the
repository's files (scrape and evaluation every second, ``for:`` a few seconds, Alertmanager's group
timers in seconds), rewritten from those files, so the rule expressions and routes under test are the
real ones.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import yaml

from botpool import jobspec, wiring
from botpool import settings as cfg
from botpool.pool import protocol
from botpool.tenancy import store
from botpool.tenancy.activation import Activator
from devstack import monitoring, ports
from devstack.operator import OperatorProcess, readonly_dsn
from devstack.stack import Stack
from devstack.standins.telegram.client import BotInfo, TgUser
from tests.fixtures.stack import PostgresHandle
from tests.fixtures.telegram import TelegramStandin
from tests.monitoring.conftest import MONITORING
from tests.pool.conftest import activator, activator_token  # noqa: F401 - fixtures
from tests.scaler.conftest import PoolHarness, Tenants

pytestmark = [pytest.mark.stack, pytest.mark.timeout(420)]

ROOT = Path(__file__).resolve().parents[2]
ALERT = "BotpoolPoolUtilisationHigh"
#: The same condition as the scaler's own platform alert (``botpool.alerts`` in Consul) would name it: an
#: admin told through both paths hears of one full pool twice, so the test counts both.
SAME_CONDITION = (ALERT, "pool_utilisation_high")
#: The pool's size and the scaler's cap: five tenants make it 5/6 = 83 % busy with one slot still free,
#: so BotpoolNoFreeSlotAtCap (which would inhibit the alert under test) stays quiet.
POOL_SIZE = 6
TENANTS = 5
#: Alertmanager's timers in the test copy; repeats are what could make an admin hear the alert twice.
GROUP_INTERVAL_S = 2
REPEAT_INTERVAL_S = 4


def fast_config() -> jobspec.MonitoringConfig:
    """The repository's monitoring files with only their durations shortened (expressions and routes as they are)."""
    real = jobspec.MonitoringConfig.read(MONITORING)
    prometheus = yaml.safe_load(real.prometheus)
    prometheus["global"].update(scrape_interval="1s", evaluation_interval="1s")
    for sd in prometheus["alerting"]["alertmanagers"] + prometheus["scrape_configs"]:
        for files in sd.get("file_sd_configs", []):
            files["refresh_interval"] = "1s"
    rules = yaml.safe_load(real.rules)
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "3s"
    alertmanager = yaml.safe_load(real.alertmanager)
    alertmanager["route"].update(
        group_wait="1s", group_interval=f"{GROUP_INTERVAL_S}s", repeat_interval=f"{REPEAT_INTERVAL_S}s"
    )
    return jobspec.MonitoringConfig(
        prometheus=yaml.safe_dump(prometheus, sort_keys=False),
        rules=yaml.safe_dump(rules, sort_keys=False),
        alertmanager=yaml.safe_dump(alertmanager, sort_keys=False),
    )


async def _until(check: Callable[[], Awaitable[Any]], what: str, *, timeout_s: float = 90) -> Any:
    """Poll ``check`` until it returns something truthy (as someone refreshing a UI would); fail after ``timeout_s``."""
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


@dataclass
class Chain:
    """The running chain: Prometheus's and Alertmanager's addresses, the operator bot and its admins."""

    prometheus: str
    alertmanager: str
    bot: OperatorProcess
    info: BotInfo
    admins: tuple[TgUser, ...]
    telegram: TelegramStandin

    async def admin_texts(self, admin: TgUser) -> list[str]:
        """What the operator bot wrote to ``admin`` about the pool's utilisation, oldest first."""
        messages = await self.telegram.control.messages(self.info, admin.id)
        texts = [str(m.get("text", "")) for m in messages]
        return [t for t in texts if any(name in t for name in SAME_CONDITION)]

    async def counts(self) -> dict[int, tuple[int, int]]:
        """Per admin: how many firing and how many resolved messages about the alert they got."""
        out = {}
        for admin in self.admins:
            texts = await self.admin_texts(admin)
            resolved = sum("resolved" in t for t in texts)
            out[admin.id] = (len(texts) - resolved, resolved)
        return out

    async def prometheus_alert(self, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        """Prometheus's firing instances of the alert under test."""
        resp = await client.get(f"{self.prometheus}/api/v1/alerts")
        resp.raise_for_status()
        alerts: list[dict[str, Any]] = resp.json()["data"]["alerts"]
        return [a for a in alerts if a["labels"].get("alertname") == ALERT and a["state"] == "firing"]

    async def alertmanager_alert(self, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        """Alertmanager's active instances of the alert under test."""
        resp = await client.get(f"{self.alertmanager}/api/v2/alerts", params={"filter": f'alertname="{ALERT}"'})
        resp.raise_for_status()
        alerts: list[dict[str, Any]] = resp.json()
        return [a for a in alerts if a["status"]["state"] == "active"]

    async def last_evaluation(self, client: httpx.AsyncClient) -> float:
        """When Prometheus last evaluated the rule under test (Unix seconds)."""
        resp = await client.get(f"{self.prometheus}/api/v1/rules", params={"type": "alert"})
        resp.raise_for_status()
        for group in resp.json()["data"]["groups"]:
            for rule in group["rules"]:
                if rule["name"] == ALERT:
                    return datetime.fromisoformat(rule["lastEvaluation"]).timestamp()
        raise AssertionError(f"Prometheus has no rule {ALERT}")

    async def webhook_sends(self, client: httpx.AsyncClient) -> float:
        """How many notifications Alertmanager has sent to the webhook (its own counter)."""
        resp = await client.get(f"{self.alertmanager}/metrics")
        resp.raise_for_status()
        for line in resp.text.splitlines():
            if line.startswith("alertmanager_notifications_total") and 'integration="webhook"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0


@pytest.fixture
async def chain(
    stack: Stack, postgres: PostgresHandle, telegram_standin: TelegramStandin, tmp_path: Path
) -> AsyncIterator[Chain]:
    """Pool, scaler, operator bot and monitoring job running; all stopped and purged afterwards."""
    env = stack.env()
    async with (
        wiring.nomad(cfg.load(cfg.NomadSettings, env)) as nomad,
        wiring.consul(cfg.load(cfg.ConsulSettings, env)) as consul,
    ):
        harness = PoolHarness(nomad, consul, stack.slot_env(telegram_standin.base_url), {})
        await harness.purge()
        bot: OperatorProcess | None = None
        try:
            await jobspec.submit_pool(nomad, count=POOL_SIZE, env=harness.slot_env, max_count=POOL_SIZE)
            # As `botpool up` submits it, with knobs for this pool: never past 6 slots, one kept free.
            await jobspec.submit_scaler(
                nomad,
                env={"CONSUL_HTTP_ADDR": env["CONSUL_HTTP_ADDR"], "NOMAD_ADDR": env["NOMAD_ADDR"]},
                settings={
                    "MIN_FREE_BOTS": "1", "SCALE_BATCH": "1", "MAX_TOTAL_BOTS": str(POOL_SIZE),
                    "CHECK_INTERVAL": "1", "MAX_FREE_BOTS": "10", "SCALE_IN_COOLDOWN": "120",
                },
                count=1,
            )
            bot, info, admins = await _operator_bot(stack, postgres, telegram_standin, tmp_path)
            addresses = await monitoring.deploy(
                nomad, stack.state, random_ports=True, operator_webhook_url=bot.alertmanager_url, config=fast_config()
            )
            await protocol.wait_until(consul, lambda s: len(s.free()) >= POOL_SIZE, timeout_s=180)
            yield Chain(addresses["Prometheus"], addresses["Alertmanager"], bot, info, admins, telegram_standin)
        finally:
            if bot is not None:
                bot.stop()
            if await nomad.job(jobspec.MONITORING.id) is not None:
                await nomad.stop(jobspec.MONITORING.id, purge=True)
            await harness.purge()


async def _operator_bot(
    stack: Stack, postgres: PostgresHandle, telegram_standin: TelegramStandin, log_dir: Path
) -> tuple[OperatorProcess, BotInfo, tuple[TgUser, ...]]:
    """The operator bot as tests/operator runs it (own tokens, read-only database role), and two admins in chat."""
    conn = await asyncpg.connect(postgres.dsn)
    try:
        await store.migrate(conn)
    finally:
        await conn.close()
    info = await telegram_standin.control.create_bot(f"ops_{uuid.uuid4().hex[:6]}_bot")
    admins = tuple(TgUser(id=n, first_name=f"Admin{n}", language_code="ru") for n in (8_300_001, 8_300_002))
    port = ports.pick()
    env = dict(os.environ)
    env.update(stack.role_env("operator-bot"))
    for unneeded in ("VAULT_TOKEN", "BOTPOOL_REDIS_URL"):
        env.pop(unneeded, None)
    env.update({
        "BOTPOOL_DATABASE_URL": await readonly_dsn(postgres.dsn),
        "OPERATOR_BOT_TOKEN": info.token,
        "OPERATOR_ADMINS": ",".join(str(a.id) for a in admins),
        "OPERATOR_WEBHOOK_PORT": str(port),
        "OPERATOR_ALERT_WAIT": "5s",
        "MAX_TOTAL_BOTS": str(POOL_SIZE),
        "TELEGRAM_API_BASE": telegram_standin.base_url,
        "PYTHONPATH": str(ROOT),
    })
    bot = OperatorProcess(env, log_dir, port)
    await bot.start()
    control = telegram_standin.control
    for admin in admins:  # Telegram lets a bot write only to people who have opened its chat
        await control.send_message(info, admin, "/start")
        await control.wait_for_message(info, admin.id, timeout=60)
    return bot, info, admins


async def test_a_pool_past_80_percent_tells_each_admin_once_and_once_resolved(
    chain: Chain, activator: Activator  # noqa: F811 - fixture
) -> None:
    tenants = Tenants(activator, chain.telegram)
    async with httpx.AsyncClient(timeout=5) as client:

        async def scaler_leads() -> bool:
            query = "botpool_scaler_leader == 1"
            resp = await client.get(f"{chain.prometheus}/api/v1/query", params={"query": query})
            return bool(resp.json()["data"]["result"])

        await _until(scaler_leads, "Prometheus did not scrape a leading scaler", timeout_s=120)
        assert await chain.counts() == {a.id: (0, 0) for a in chain.admins}

        await tenants.activate_many(TENANTS)
        await _until(lambda: chain.prometheus_alert(client), f"Prometheus did not fire {ALERT}")

        async def everyone_told() -> dict[int, tuple[int, int]] | None:
            counts = await chain.counts()
            return counts if all(fired for fired, _ in counts.values()) else None

        await _until(everyone_told, "an admin got no firing message")
        (firing,) = await chain.admin_texts(chain.admins[0])
        assert "83" in firing  # the summary carries the utilisation: 5 of 6 slots

        # Alertmanager keeps notifying while the alert lasts (repeat_interval): wait for two more sends
        # with the alert still active, then each admin must still have exactly one message.
        sent = await chain.webhook_sends(client)

        async def repeated() -> bool:
            return await chain.webhook_sends(client) >= sent + 2

        await _until(repeated, "Alertmanager did not notify the webhook again", timeout_s=6 * REPEAT_INTERVAL_S)
        assert await chain.alertmanager_alert(client), "the alert ended before the repeats were observed"
        assert await chain.counts() == {a.id: (1, 0) for a in chain.admins}

        for tenant in list(tenants.active.values()):
            await tenants.release(tenant)

        async def cleared() -> bool:
            return not await chain.prometheus_alert(client) and not await chain.alertmanager_alert(client)

        await _until(cleared, f"{ALERT} did not clear after the tenants were released")

        async def everyone_resolved() -> dict[int, tuple[int, int]] | None:
            counts = await chain.counts()
            return counts if all(resolved for _, resolved in counts.values()) else None

        await _until(everyone_resolved, "an admin got no resolved message")
        # A few more of Alertmanager's group intervals and Prometheus's evaluations: nothing more arrives.
        resolved_at = await chain.last_evaluation(client)

        async def settled() -> bool:
            later = await chain.last_evaluation(client) - resolved_at
            return later > 3 * GROUP_INTERVAL_S and not await chain.alertmanager_alert(client)

        await _until(settled, "Prometheus stopped evaluating the rule, or Alertmanager showed the alert again")
        assert await chain.counts() == {a.id: (1, 1) for a in chain.admins}
        (_, resolved) = await chain.admin_texts(chain.admins[1])
        assert "resolved" in resolved
