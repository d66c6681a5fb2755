"""The operator bot as ``botpool up`` runs it: jobs/operator-bot.nomad.hcl on Nomad with the secrets file
``devstack.operator.prepare`` writes and its Consul token from its workload identity; Consul sees it
healthy, an admin gets the pool's status, and an alert posted to the address Consul lists reaches the admin
once. No secret is in the job Nomad holds.
"""

from __future__ import annotations

import asyncio
import json
import stat
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from botpool import jobspec
from botpool.tenancy import provision
from devstack import operator as devstack_operator
from devstack.stack import Stack
from devstack.standins.telegram.client import TgUser
from tests.fixtures.stack import PostgresHandle
from tests.fixtures.telegram import TelegramStandin
from tests.operator.conftest import Chat, PoolJob

pytestmark = [pytest.mark.stack, pytest.mark.timeout(240)]

ADMIN = TgUser(id=8_300_001, first_name="Deployed", language_code="ru")


@pytest.fixture(scope="module")
async def deployed(
    stack: Stack, telegram_standin: TelegramStandin, pool: PoolJob, postgres: PostgresHandle
) -> AsyncIterator[devstack_operator.OperatorDeployment]:
    """The operator bot job submitted as ``botpool up`` does (one admin), stopped and purged afterwards."""
    conn = await asyncpg.connect(postgres.dsn)
    try:  # the database as any control-plane process's start leaves it: CONNECT no longer PUBLIC's
        await provision.prepare_database(conn, "botpool")
    finally:
        await conn.close()
    deployment = await devstack_operator.prepare(
        stack, admins=f" {ADMIN.id} ,", telegram_api_base=telegram_standin.base_url, random_ports=True
    )
    await jobspec.submit_operator(
        pool.nomad, env=deployment.env, env_file=str(deployment.env_file),
        secrets_version=deployment.secrets_version, webhook_port=deployment.webhook_port,
    )
    try:
        yield deployment
    finally:
        await pool.nomad.stop(jobspec.OPERATOR.id, purge=True)


async def _passing_instance(consul_addr: str, token: str, *, timeout_s: float = 120) -> dict[str, Any]:
    """The operator bot's service instance once Consul's check of it passes, as Alertmanager's operator finds it."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    async with httpx.AsyncClient(timeout=5, headers={"X-Consul-Token": token}) as client:
        while time.monotonic() < deadline:
            resp = await client.get(f"{consul_addr}/v1/health/service/operator-bot", params={"passing": "1"})
            last = resp.json()
            if resp.status_code == 200 and last:
                return dict(last[0]["Service"])
            await asyncio.sleep(0.5)
    pytest.fail(f"Consul did not show the operator bot passing within {timeout_s:.0f} s; last seen: {last!r}")


def _alert(name: str) -> dict[str, Any]:
    alert = {
        "status": "firing", "labels": {"alertname": name, "severity": "warning"},
        "annotations": {"summary": f"{name} summary"}, "startsAt": datetime.now(UTC).isoformat(),
        "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus/graph",
        "fingerprint": uuid.uuid4().hex[:16],
    }
    return {
        "version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": "firing", "receiver": "operator-bot",
        "groupLabels": {"alertname": name}, "commonLabels": alert["labels"],
        "commonAnnotations": alert["annotations"], "externalURL": "http://alertmanager", "alerts": [alert],
    }


async def test_the_deployed_bot_is_healthy_answers_the_admin_and_relays_alerts(
    deployed: devstack_operator.OperatorDeployment, pool: PoolJob, telegram_standin: TelegramStandin,
    consul_addr: str, consul_management_token: str,
) -> None:
    instance = await _passing_instance(consul_addr, consul_management_token)
    assert instance["Port"] == deployed.webhook_port

    # The secrets stay in the owner-only file; the job Nomad holds names only its path.
    assert stat.S_IMODE(deployed.env_file.stat().st_mode) == 0o600
    secrets = dict(line.split("=", 1) for line in deployed.env_file.read_text().splitlines())
    assert secrets["OPERATOR_ADMINS"] == str(ADMIN.id)
    job = json.dumps(await pool.nomad.job(jobspec.OPERATOR.id))
    for key in ("OPERATOR_BOT_TOKEN", "NOMAD_TOKEN", "BOTPOOL_DATABASE_URL"):
        assert secrets[key] not in job, f"{key} leaked into the job spec"

    bot = await telegram_standin.control.create_bot(deployed.username)  # the existing one: created by prepare
    chat = Chat(telegram_standin.control, bot, ADMIN)
    chat.last = max((int(m["message_id"]) for m in await chat.messages()), default=0)
    await chat.say("/start")
    status = (await chat.say("/pool"))["text"]
    assert "🏊 СТАТУС ПУЛА БОТОВ" in status

    name = f"DeployedAlert{uuid.uuid4().hex[:6]}"
    address = f"http://{instance['Address'] or '127.0.0.1'}:{instance['Port']}/alertmanager"
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(address, json=_alert(name))
    assert response.status_code == 200, response.text
    await chat.expect(name)
    assert sum(1 for m in await chat.messages() if name in (m.get("text") or "")) == 1
