"""Fixtures for the warm-pool tests: the real job on Nomad, an activator with the real Vault policy."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import hvac
import pytest
from consul.aio import Consul

from botpool import jobspec, wiring
from botpool import settings as cfg
from botpool.clients import vault as vault_client
from botpool.clients.nomad import NomadClient
from botpool.pool import keys, protocol
from botpool.tenancy.activation import Activator
from devstack import services, vault_access
from devstack.stack import Stack
from tests.fixtures.stack import PostgresHandle, RedisHandle, VaultHandle
from tests.fixtures.telegram import TelegramStandin
from tests.pool.fakes import clear_fake_slots, clear_slot_states


@pytest.fixture(scope="session")
def activator_token(stack: Stack) -> str:
    """The operator's Vault token as ``up`` issued it (token role botpool-operator: the activator policy only).

    What an in-process activator runs with here, as ``botpool tenant`` does; the reconciler and the sales bot
    get their own role tokens (``control_env``, tests/sales/conftest.py).
    """
    return vault_access.role_token(stack.state, "operator")


@pytest.fixture(scope="session")
def slot_env(stack: Stack, telegram_standin: TelegramStandin) -> dict[str, str]:
    """What a slot needs to know: where Consul, Vault, Telegram, PostgreSQL and Redis are (no credentials).

    Every released slot of this pool starts afresh (``SLOT_RECYCLE_GROWTH_MB=0``; the default waits
    until a slot grew 10 MB): the strictest setting, so the suites that share this pool (pool, sales,
    reconciler, security, operator) all go through a slot's fresh start after each release.
    """
    return {**stack.slot_env(telegram_standin.base_url), "SLOT_RECYCLE_GROWTH_MB": "0"}


@pytest.fixture(scope="session")
def control_env(stack: Stack) -> dict[str, str]:
    """Environment of a control-plane process (reconciler, activation workers): the reconciler's own tokens."""
    return services.control_env(stack.state, role="reconciler")


@dataclass
class Pool:
    """The real bot-pool job running on the test stack."""

    nomad: NomadClient
    consul: Consul
    env: dict[str, str]
    root: Path
    sizes: list[int] = field(default_factory=list)

    async def scale_to_free(self, free: int, *, timeout_s: float = 180) -> protocol.PoolSnapshot:
        """Grow the group until ``free`` slots are WAITING and unclaimed; wait for them.

        The group grows again whenever every slot it asked for is up and others took the new ones
        meanwhile: a reconciler running in the test re-homes any tenant left without a slot, which is
        its job, so the test makes room for it too instead of waiting for slots that will not come.
        """
        try:
            async with asyncio.timeout(timeout_s):
                want = 0
                async for snap in protocol.watch(self.consul, wait="10s"):
                    if len(snap.free()) >= free:
                        return snap
                    if len(snap.slots) < want:
                        continue  # the slots asked for are still starting
                    status, _ = await self.nomad.scale_status(jobspec.POOL.id)
                    desired = int(status["TaskGroups"][jobspec.POOL.group]["Desired"])
                    busy = len(snap.slots) - len(snap.free())
                    want = max(desired, busy + free)
                    if want != desired:
                        message = "test: need free slots"
                        await self.nomad.scale(jobspec.POOL.id, jobspec.POOL.group, want, message=message)
        except TimeoutError:
            pass
        raise AssertionError(f"no {free} free slots after {timeout_s:.0f} s: {await self.explain()}")

    async def explain(self) -> str:
        """Why slots are not free: the group's counts, allocations by node and status, slot states, leaving list.

        What a failed wait prints, so a red run says where the slots went instead of only "TimeoutError".
        """
        snap = await protocol.snapshot(self.consul)
        status, _ = await self.nomad.scale_status(jobspec.POOL.id)
        allocs, _ = await self.nomad.allocations_blocking(jobspec.POOL.id)
        nodes, _ = await self.nomad.nodes()
        by_status: dict[str, int] = {}
        for a in allocs:
            key = f"{a.get('NodeName')}:{a.get('DesiredStatus')}/{a.get('ClientStatus')}"
            by_status[key] = by_status.get(key, 0) + 1
        states: dict[str, int] = {}
        for s in snap.slots.values():
            key = s.mode + ("+claim" if s.index in snap.claims else "")
            key += "+leaving" if s.alloc_id in snap.leaving else ""
            states[key] = states.get(key, 0) + 1
        node_view = [f"{n.get('Name')}:{n.get('Status')}/{n.get('SchedulingEligibility')}/drain={n.get('Drain')}"
                     for n in nodes]
        return (f"group {status['TaskGroups'][jobspec.POOL.group]}; allocations {by_status}; "
                f"slots {states}; leaving {len(snap.leaving)}; nodes {node_view}")

    def logs(self) -> list[Path]:
        """Every slot's stdout/stderr file written by Nomad (regular files: the logs folder also holds FIFOs)."""
        return sorted(p for p in self.root.glob("nomad/data/alloc/*/alloc/logs/*") if p.is_file())


async def _purge(nomad: NomadClient, consul: Consul) -> None:
    if await nomad.job(jobspec.POOL.id) is not None:
        await nomad.stop(jobspec.POOL.id, purge=True)
    # Slots remove their own state as they stop; wait for that, then drop leftovers (claims, tenants, the
    # state of slots that were killed).
    with contextlib.suppress(TimeoutError):
        await protocol.wait_until(consul, lambda s: not s.slots, timeout_s=30)
    await consul.kv.delete(keys.POOL, recurse=True)
    await consul.kv.delete(keys.ALERTS, recurse=True)
    await clear_slot_states(consul)


@pytest.fixture(scope="module")
async def pool(stack: Stack, slot_env: dict[str, str]) -> AsyncIterator[Pool]:
    """The job from jobs/bot-pool.nomad.hcl with 10 slots (tests grow it as they need); purged afterwards."""
    env = stack.env()
    async with wiring.nomad(cfg.load(cfg.NomadSettings, env)) as nomad, wiring.consul(
        cfg.load(cfg.ConsulSettings, env)
    ) as consul:
        await _purge(nomad, consul)
        await jobspec.submit_pool(nomad, count=10, env=slot_env)
        await protocol.wait_until(consul, lambda s: len(s.free()) >= 10, timeout_s=180)
        yield Pool(nomad, consul, slot_env, stack.root)
        await _purge(nomad, consul)


@pytest.fixture
async def activator(
    stack: Stack, vault: VaultHandle, activator_token: str, postgres: PostgresHandle, redis_server: RedisHandle
) -> AsyncIterator[Activator]:
    """The shared activation entry point, with the activator's Vault policy (not root) and Consul token."""
    consul_env = stack.role_env("reconciler")
    settings = wiring.ControlPlaneSettings.load(
        {
            "CONSUL_HTTP_ADDR": consul_env["CONSUL_HTTP_ADDR"], "CONSUL_HTTP_TOKEN": consul_env["CONSUL_HTTP_TOKEN"],
            "VAULT_ADDR": vault.addr, "VAULT_TOKEN": activator_token,
            "BOTPOOL_DATABASE_URL": postgres.dsn, "BOTPOOL_REDIS_URL": redis_server.url,
        }
    )
    async with wiring.control_plane(settings, db_max_size=8) as plane:
        yield plane.activator


@pytest.fixture
async def empty_pool(consul: Consul) -> AsyncIterator[Consul]:
    """The pool and alert prefixes empty before and after, for tests that fake their slots (``tests.pool.fakes``)."""

    async def clear() -> None:
        await consul.kv.delete(keys.POOL, recurse=True)
        await consul.kv.delete(keys.ALERTS, recurse=True)
        await clear_fake_slots(consul)

    await clear()
    yield consul
    await clear()


@pytest.fixture
def root_vault(vault: VaultHandle) -> hvac.Client:
    """Vault with the tests' inspector token (tests use it to play an attacker or to read what a slot would get)."""
    return vault_client.connect_url(vault.addr, vault.token)


@pytest.fixture
def reconciler(control_env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    """A real reconciler process; yields its log file."""
    log = tmp_path / "reconciler.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "reconciler"], env=control_env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
