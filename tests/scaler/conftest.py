"""Fixtures for the scaler tests: the real pool job, real tenants, and scaler instances in or out of process.

Every test that touches Nomad starts from a purged ``bot-pool`` (and
``pool-scaler``) job and an empty ``botpool/pool/`` prefix, and leaves them
purged: other test modules use the same job on the same session stack.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from consul.aio import Consul
from pydantic import SecretStr

from botpool import alerts, jobspec, wiring
from botpool import settings as cfg
from botpool.clients.nomad import NomadClient
from botpool.pool import keys, protocol
from botpool.tenancy.activation import Activator, TenantSpec
from devstack import ports, vault_access
from devstack.stack import Stack
from devstack.standins.telegram.client import BotInfo, TgUser
from scaler.service import Scaler
from tests.fixtures.stack import PostgresHandle, RedisHandle, VaultHandle
from tests.fixtures.telegram import TelegramStandin
from tests.scaler.readings import settings as make_settings

CLIENT = TgUser(id=880001, first_name="Olga")


@pytest.fixture(scope="session")
def scaler_slot_env(stack: Stack, telegram_standin: TelegramStandin) -> dict[str, str]:
    """What a slot needs to know: where Consul, Vault, Telegram, PostgreSQL and Redis are (no credentials)."""
    return stack.slot_env(telegram_standin.base_url)


@dataclass
class PoolHarness:
    """The real ``bot-pool`` job on the test stack, and what a test asks of Nomad and Consul about it."""

    nomad: NomadClient
    consul: Consul
    slot_env: dict[str, str]
    #: the scaler role's environment (its own Consul and Nomad tokens), for the scalers a test starts
    stack_env: dict[str, str]

    async def submit(self, count: int, *, max_count: int = 100) -> None:
        """Register jobs/bot-pool.nomad.hcl with ``count`` slots and wait until all are free."""
        await jobspec.submit_pool(self.nomad, count=count, env=self.slot_env, max_count=max_count)
        await self.wait_free(count, timeout_s=120)

    async def wait_free(self, n: int, *, timeout_s: float = 90) -> protocol.PoolSnapshot:
        """Block (Consul blocking queries) until at least ``n`` slots are WAITING and unclaimed."""
        return await protocol.wait_until(self.consul, lambda s: len(s.free()) >= n, timeout_s=timeout_s)

    async def group(self) -> dict[str, Any]:
        """The group's scale status now (Desired, Placed, Running, Events)."""
        status, _ = await self.nomad.scale_status(jobspec.POOL.id)
        group: dict[str, Any] = status["TaskGroups"][jobspec.POOL.group]
        return group

    async def desired(self) -> int:
        """The group's count in Nomad."""
        return int((await self.group())["Desired"])

    async def scale_events(self) -> list[dict[str, Any]]:
        """Scale events the scaler (or an operator) made, oldest first; the job's registration is not one."""
        events = (await self.group()).get("Events") or []
        return sorted((e for e in events if e.get("Count") is not None), key=lambda e: int(e["Time"]))

    async def wait_desired(self, predicate: Callable[[int], bool], *, timeout_s: float) -> int:
        """Block on Nomad's scale status (a blocking query) until the count satisfies ``predicate``."""
        index = 0
        async with asyncio.timeout(timeout_s):
            while True:
                status, index = await self.nomad.scale_status(jobspec.POOL.id, index=index, wait="5s")
                desired = int(status["TaskGroups"][jobspec.POOL.group]["Desired"])
                if predicate(desired):
                    return desired

    async def alerts(self) -> list[alerts.Alert]:
        """Alerts waiting for the operator bot."""
        return await alerts.list_alerts(self.consul)

    async def purge(self) -> None:
        """Stop and purge both jobs and drop the pool's keys, alerts and the scaler lock."""
        for job in (jobspec.SCALER.id, jobspec.POOL.id):
            if await self.nomad.job(job) is not None:
                await self.nomad.stop(job, purge=True)
        with contextlib.suppress(TimeoutError):
            await protocol.wait_until(self.consul, lambda s: not s.slots, timeout_s=30)
        await self.consul.kv.delete(keys.POOL, recurse=True)
        await self.consul.kv.delete(keys.ALERTS, recurse=True)
        await self.consul.kv.delete(keys.leader("scaler"))


@pytest.fixture
async def pool(stack: Stack, scaler_slot_env: dict[str, str]) -> AsyncIterator[PoolHarness]:
    """A purged pool (the test submits the job with the size it needs); purged again afterwards."""
    env = stack.env()
    async with wiring.nomad(cfg.load(cfg.NomadSettings, env)) as nomad, wiring.consul(
        cfg.load(cfg.ConsulSettings, env)
    ) as consul:
        harness = PoolHarness(nomad, consul, scaler_slot_env, stack.role_env("scaler"))
        await harness.purge()
        try:
            yield harness
        finally:
            await harness.purge()


# --------------------------------------------------------------------- tenants
@dataclass
class Tenant:
    """A paying tenant whose bot runs in a slot."""

    tenant_id: str
    bot: BotInfo
    company: str
    slot: int


@dataclass
class Tenants:
    """Activates real tenants (Vault handoff, PostgreSQL, Redis, a bot polling the Telegram stand-in)."""

    activator: Activator
    telegram: TelegramStandin
    active: dict[str, Tenant] = field(default_factory=dict)

    async def activate(self) -> Tenant:
        """Activate one new tenant and return once its slot reports ACTIVE."""
        tenant_id = f"t_{uuid.uuid4().hex[:12]}"
        bot = await self.telegram.control.create_bot(f"scl_{uuid.uuid4().hex[:8]}_bot")
        company = f"Salon {tenant_id[-6:]}"
        spec = TenantSpec(
            tenant_id=tenant_id, bot_token=SecretStr(bot.token), admin_telegram_id=42, company_name=company,
            paid_until=datetime.now(UTC) + timedelta(days=30),
        )
        result = await self.activator.activate(spec)
        tenant = Tenant(tenant_id, bot, company, result.slot_index)
        self.active[tenant_id] = tenant
        return tenant

    async def activate_many(self, n: int) -> list[Tenant]:
        """Activate ``n`` tenants one after the other (as buyers arrive)."""
        return [await self.activate() for _ in range(n)]

    async def release(self, tenant: Tenant) -> None:
        """The tenant's subscription ends: its slot returns to the pool."""
        self.active.pop(tenant.tenant_id, None)
        await self.activator.release(tenant.tenant_id)

    async def answers(self, tenant: Tenant, *, timeout: float = 20) -> None:
        """A client writes /start to the tenant's bot and gets the salon's greeting."""
        control = self.telegram.control
        before = await control.messages(tenant.bot, CLIENT.id)
        last = max((m["message_id"] for m in before), default=0)
        await control.send_message(tenant.bot, CLIENT, "/start")
        await control.wait_for_message(
            tenant.bot, CLIENT.id, contains=tenant.company, after_message_id=last, timeout=timeout
        )


@pytest.fixture
async def tenants(
    stack: Stack, vault: VaultHandle, postgres: PostgresHandle, redis_server: RedisHandle,
    telegram_standin: TelegramStandin,
) -> AsyncIterator[Tenants]:
    """Real activations through the shared activation entry point, with the operator's Vault token."""
    settings = wiring.ControlPlaneSettings.load(
        {
            "CONSUL_HTTP_ADDR": stack.env()["CONSUL_HTTP_ADDR"],
            "CONSUL_HTTP_TOKEN": stack.role_env("reconciler")["CONSUL_HTTP_TOKEN"],
            "VAULT_ADDR": vault.addr, "VAULT_TOKEN": vault_access.role_token(stack.state, "operator"),
            "BOTPOOL_DATABASE_URL": postgres.dsn, "BOTPOOL_REDIS_URL": redis_server.url,
        }
    )
    async with wiring.control_plane(settings) as plane:
        yield Tenants(plane.activator, telegram_standin)


# ---------------------------------------------------------------------- scalers
def scaler_env(stack_env: dict[str, str], name: str, knobs: dict[str, object]) -> dict[str, str]:
    """Environment of a ``python -m scaler`` process pointed at the test stack."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "CONSUL_HTTP_ADDR": stack_env["CONSUL_HTTP_ADDR"],
        "CONSUL_HTTP_TOKEN": stack_env["CONSUL_HTTP_TOKEN"],
        "NOMAD_ADDR": stack_env["NOMAD_ADDR"],
        "NOMAD_TOKEN": stack_env["NOMAD_TOKEN"],
        "BOTPOOL_SCALER_INSTANCE": name,
        "NOMAD_PORT_http": str(ports.pick(None, taken=set())),
        "BOTPOOL_LOG_LEVEL": "DEBUG",
    }
    env.update({k: str(v) for k, v in knobs.items()})
    return env


@dataclass
class ScalerProcess:
    """A scaler running as its own OS process, so a test can SIGKILL it like a crash."""

    name: str
    proc: asyncio.subprocess.Process
    log_path: Path
    metrics_port: int

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far."""
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        """Send ``sig`` and wait (bounded) for the process to exit."""
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
            try:
                async with asyncio.timeout(15):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@pytest.fixture
async def scaler_processes(pool: PoolHarness, tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Start ``python -m scaler`` processes; all are stopped at the end of the test."""
    started: list[ScalerProcess] = []

    async def start(name: str, **knobs: object) -> ScalerProcess:
        env = scaler_env(pool.stack_env, name, knobs)
        log_path = tmp_path / f"{name}.log"
        with log_path.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "scaler", env=env, stdout=out, stderr=asyncio.subprocess.STDOUT,
                cwd=Path(__file__).resolve().parents[2],
            )
        handle = ScalerProcess(name, proc, log_path, int(env["NOMAD_PORT_http"]))
        started.append(handle)
        return handle

    yield start
    for handle in started:
        await handle.stop()


@contextlib.asynccontextmanager
async def running_scaler(stack_env: dict[str, str], name: str = "inproc", **knobs: object) -> AsyncIterator[Scaler]:
    """Run a scaler inside the test's event loop (its decisions and metrics are inspectable)."""
    values: dict[str, object] = {"NOMAD_PORT_http": 0, "BOTPOOL_SCALER_INSTANCE": name}
    values.update(knobs)
    settings = make_settings(**values)
    async with wiring.consul(cfg.load(cfg.ConsulSettings, stack_env)) as consul, wiring.nomad(
        cfg.load(cfg.NomadSettings, stack_env)
    ) as nomad:
        scaler = Scaler(settings, consul, nomad)
        stop = asyncio.Event()
        task = asyncio.create_task(scaler.run(stop))
        try:
            async with asyncio.timeout(20):
                await scaler.election.wait_leading()
            yield scaler
        finally:
            stop.set()
            async with asyncio.timeout(20):
                await task
