"""The scaler on real Nomad and Consul with the real job files: what an operator and a paying tenant notice.

Each test starts from a purged pool and submits jobs/bot-pool.nomad.hcl with
the few slots it needs (every slot imports aiogram: the machine has 2 cores).
Busy slots are real tenants (Vault handoff, their own PostgreSQL role and
Redis user, a bot answering /start through the Telegram stand-in), so "no
active tenant is ever stopped" is checked against bots that really serve.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from botpool.leader import LeaderElection
from botpool.pool import keys, protocol
from botpool.pool.model import SlotMode
from devstack.stack import Stack
from scaler.service import Scaler
from scaler.strategy import AlertKind
from tests.scaler.conftest import PoolHarness, Tenants, running_scaler

#: Small pools for a 2-core machine: the band [MIN_FREE_BOTS, MAX_FREE_BOTS] and one batch.
SMALL = {"MIN_FREE_BOTS": 2, "SCALE_BATCH": 2, "MAX_FREE_BOTS": 4, "MAX_TOTAL_BOTS": 12,
         "SCALE_IN_COOLDOWN": 600, "CHECK_INTERVAL": 30}


async def lock_holder(pool: PoolHarness) -> str | None:
    """The instance name in the scaler lock, or None while nobody leads."""
    return await LeaderElection(pool.consul, instance="probe", role="scaler").holder()


async def wait_holder(pool: PoolHarness, predicate: Any, *, timeout_s: float) -> str | None:
    """Block on the lock key (Consul blocking queries) until its holder satisfies ``predicate``."""
    index: int | None = None
    async with asyncio.timeout(timeout_s):
        while True:
            index, entry = await pool.consul.kv.get(keys.leader("scaler"), index=index, wait="5s")
            holder = json.loads(entry["Value"])["instance"] if entry and entry.get("Session") else None
            if predicate(holder):
                return holder


async def test_ten_slots_eight_claimed_grows_to_fifteen_and_refills(pool: PoolHarness, tenants: Tenants) -> None:
    await pool.submit(10)
    async with running_scaler(pool.stack_env, MIN_FREE_BOTS=3, SCALE_BATCH=5, MAX_FREE_BOTS=10,
                              MAX_TOTAL_BOTS=20, SCALE_IN_COOLDOWN=600):
        await tenants.activate_many(7)
        assert await pool.desired() == 10, "7 of 10 busy leaves 3 free: no scaling yet"
        eighth = await tenants.activate()
        assert await pool.wait_desired(lambda n: n > 10, timeout_s=5) == 15
        snap = await pool.wait_free(7, timeout_s=90)  # the 5 new slots turn healthy and WAITING
        assert await pool.desired() == 15
        events = await pool.scale_events()
        assert [(e["PreviousCount"], e["Count"]) for e in events] == [(10, 15)]
        assert events[0]["Meta"]["reason"] == "shortage"
        assert events[0]["Meta"]["free"] == 2 and events[0]["Meta"]["total"] == 10
        # Reaction: from the claim that left 2 free (its timestamp in Consul) to Nomad's scale event.
        claim = snap.claims[eighth.slot]
        reaction = int(events[0]["Time"]) / 1e9 - claim.claimed_at.timestamp()
        assert 0 <= reaction <= 1.0, f"scale-up {reaction:.3f} s after the shortage"
        for tenant in tenants.active.values():
            await tenants.answers(tenant)


async def wait_condition(scaler: Scaler, kind: AlertKind, *, timeout_s: float) -> float:
    """Poll the scaler's /metrics counter until an episode of ``kind`` began; how many began."""
    async with asyncio.timeout(timeout_s):
        while True:
            began = scaler.metrics.registry.get_sample_value("botpool_scaler_alerts_total", {"kind": kind.value})
            if began:
                return began
            await asyncio.sleep(0.2)


async def test_at_max_total_it_stops_growing_and_shows_the_alert_condition(
    pool: PoolHarness, tenants: Tenants
) -> None:
    await pool.submit(4)
    async with running_scaler(pool.stack_env, MIN_FREE_BOTS=2, SCALE_BATCH=2, MAX_FREE_BOTS=4,
                              MAX_TOTAL_BOTS=6, SCALE_IN_COOLDOWN=600) as scaler:
        await tenants.activate_many(3)  # 1 free of 4: grow by a batch, to the cap of 6
        assert await pool.wait_desired(lambda n: n > 4, timeout_s=5) == 6
        await pool.wait_free(3, timeout_s=90)
        assert not scaler.metrics.registry.get_sample_value(
            "botpool_scaler_alerts_total", {"kind": AlertKind.AT_MAX_NO_FREE.value}
        )
        await tenants.activate_many(3)  # every slot busy, and the pool may not grow
        assert await wait_condition(scaler, AlertKind.AT_MAX_NO_FREE, timeout_s=10) == 1
        assert await wait_condition(scaler, AlertKind.UTILISATION_HIGH, timeout_s=10)
        # What BotpoolNoFreeSlotAtCap reads from /metrics (monitoring/rules/botpool.rules.yml).
        sample = scaler.metrics.registry.get_sample_value
        assert (sample("botpool_pool_free"), sample("botpool_pool_total"), sample("botpool_pool_max_total")) == (
            0, 6, 6
        )
        await asyncio.sleep(2)  # a scaler that ignored the cap would have asked Nomad by now
        assert await pool.desired() == 6
        assert [(e["PreviousCount"], e["Count"]) for e in await pool.scale_events()] == [(4, 6)]
        assert sample("botpool_scaler_alerts_total", {"kind": AlertKind.AT_MAX_NO_FREE.value}) == 1, (
            "one episode, not one per reading"
        )
        # Operators hear of it through Prometheus and Alertmanager only: nothing for the operator bot in Consul.
        assert not [a for a in await pool.alerts() if a.kind.startswith("pool_")]


async def _alloc_ids(pool: PoolHarness, tenants: Tenants) -> dict[str, str]:
    """Tenant id → the Nomad allocation serving it now (from the slot states in Consul)."""
    snap = await protocol.snapshot(pool.consul)
    out = {}
    for tenant in tenants.active.values():
        slot = snap.slots[tenant.slot]
        assert slot.tenant_id == tenant.tenant_id and slot.mode is SlotMode.ACTIVE
        out[tenant.tenant_id] = slot.alloc_id
    return out


async def decided_again(scaler: Scaler, *, after_s: float) -> None:
    """Wait until the scaler made a whole decision that started at least ``after_s`` from now.

    What "it holds there" needs: the scaler really looked again once its cooldown was over (a fixed
    sleep proves nothing on a loaded machine, where the scaler may not have decided at all meanwhile).
    """

    def decisions() -> float:  # every decision, whatever its action and reason
        return sum(sample.value for family in scaler.metrics.registry.collect()
                   if family.name == "botpool_scaler_decisions" for sample in family.samples
                   if sample.name == "botpool_scaler_decisions_total")

    async with asyncio.timeout(after_s + 60):
        await asyncio.sleep(after_s)  # the cooldown being waited out is time itself
        seen = decisions()
        while decisions() < seen + 2:  # noqa: ASYNC110 - the one in flight may have started earlier
            await asyncio.sleep(0.2)


async def test_load_cycle_shrinks_when_idle_and_never_stops_an_active_tenant(
    pool: PoolHarness, tenants: Tenants
) -> None:
    await pool.submit(4)
    serving: dict[str, str] = {}  # tenant id → alloc id, for every tenant that was ever active

    async def everyone_answers() -> None:
        for tenant_id, alloc in (await _alloc_ids(pool, tenants)).items():
            assert serving.setdefault(tenant_id, alloc) == alloc, f"{tenant_id} moved: its slot was stopped"
        for tenant in list(tenants.active.values()):
            await tenants.answers(tenant)

    async with running_scaler(pool.stack_env, MIN_FREE_BOTS=2, SCALE_BATCH=2, MAX_FREE_BOTS=4,
                              MAX_TOTAL_BOTS=12, SCALE_IN_COOLDOWN=3, CHECK_INTERVAL=2) as scaler:
        # Up: buyers arrive one by one; the pool grows ahead of them.
        for _ in range(7):
            await tenants.activate()
            await pool.wait_free(1, timeout_s=90)
        await pool.wait_free(2, timeout_s=90)
        peak = await pool.desired()
        assert peak >= 9
        await everyone_answers()
        # Down: everyone leaves except the tenants on the lowest and the highest slot.
        by_slot = sorted(tenants.active.values(), key=lambda t: t.slot)
        low, high = by_slot[0], by_slot[-1]
        for tenant in by_slot[1:-1]:
            await tenants.release(tenant)
        # The pool shrinks, but not past the busy slot at the top (Nomad stops the highest indexes).
        lowest = await pool.wait_desired(lambda n: n <= high.slot + 1, timeout_s=120)
        assert lowest == high.slot + 1, f"free slots left below the busy slot {high.slot}: {lowest}"
        # And it holds there: the scaler decides again after its cooldown and check interval have passed.
        await decided_again(scaler, after_s=5)
        held = await pool.desired()
        assert held == high.slot + 1, f"free slots left below the busy slot {high.slot}: {held}"
        await everyone_answers()
        # The top tenant leaves too: now the pool can shrink to its band above the last busy slot.
        await tenants.release(high)
        final = await pool.wait_desired(lambda n: n <= low.slot + 1 + 4, timeout_s=30)
        assert final >= low.slot + 1 + 2  # MIN_FREE_BOTS stay free
        # And up again: a new buyer gets a slot at once; the survivors never moved.
        await tenants.activate()
        await pool.wait_free(2, timeout_s=90)
        await everyone_answers()
    assert len(serving) == 8
    for alloc in (await _alloc_ids(pool, tenants)).values():
        status = await pool.nomad.allocation(alloc)
        assert status is not None and status["ClientStatus"] == "running"


async def test_two_instances_one_leader_no_double_scaling_and_failover(
    pool: PoolHarness, tenants: Tenants, scaler_processes: Any
) -> None:
    await pool.submit(3)
    knobs = {**SMALL, "BOTPOOL_SCALER_SESSION_TTL": 10, "BOTPOOL_SCALER_LIVENESS_TTL": 5}
    a = await scaler_processes("a", **knobs)
    assert await wait_holder(pool, lambda h: h == "a", timeout_s=20) == "a"
    b = await scaler_processes("b", **knobs)
    async with httpx.AsyncClient() as http:
        async with asyncio.timeout(20):  # b serves its metrics as a standby
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    text = (await http.get(f"http://127.0.0.1:{b.metrics_port}/metrics")).text
                    if 'botpool_scaler_leader{instance="b"} 0.0' in text:
                        break
                await asyncio.sleep(0.2)
        # A shortage seen by both: only the leader scales, once.
        await tenants.activate_many(2)
        assert await pool.wait_desired(lambda n: n > 3, timeout_s=5) == 5
        await pool.wait_free(3, timeout_s=90)
        events = await pool.scale_events()
        assert [(e["PreviousCount"], e["Count"]) for e in events] == [(3, 5)]
        assert events[0]["Meta"]["instance"] == "a"
        leader_metrics = (await http.get(f"http://127.0.0.1:{a.metrics_port}/metrics")).text
        assert 'botpool_scaler_scale_events_total{direction="up",reason="shortage"} 1.0' in leader_metrics
        assert "botpool_pool_total 5.0" in leader_metrics
    assert not [line for line in b.log_lines() if line.get("event") == "scaled"]
    # The leader crashes (no chance to resign): the standby takes over within 15 s and scales.
    killed_at = time.monotonic()
    await a.stop(signal.SIGKILL)
    assert await wait_holder(pool, lambda h: h == "b", timeout_s=15) == "b"
    takeover = time.monotonic() - killed_at
    assert takeover <= 15
    await tenants.activate_many(2)
    assert await pool.wait_desired(lambda n: n > 5, timeout_s=5) == 7
    events = await pool.scale_events()
    assert [(e["PreviousCount"], e["Count"]) for e in events] == [(3, 5), (5, 7)]
    assert events[1]["Meta"]["instance"] == "b"
    decisions = [line for line in b.log_lines() if line.get("event") == "decision"]
    assert decisions and all("reason" in line and "free" in line for line in decisions)


async def test_restart_mid_shortage_does_not_scale_again(pool: PoolHarness, tenants: Tenants) -> None:
    await pool.submit(3)
    knobs = {"MIN_FREE_BOTS": 2, "SCALE_BATCH": 4, "MAX_FREE_BOTS": 8, "MAX_TOTAL_BOTS": 12,
             "SCALE_IN_COOLDOWN": 600}
    async with running_scaler(pool.stack_env, "first", **knobs):
        await tenants.activate_many(2)
        assert await pool.wait_desired(lambda n: n > 3, timeout_s=5) == 7
    # The first instance is gone while 4 slots are still starting; a new one takes over at once.
    async with running_scaler(pool.stack_env, "second", **knobs) as second:
        reading = await second.source.read()
        assert reading.pending > 0, "the restart was meant to happen while slots were still starting"
        assert reading.free + reading.pending_free >= 2
        await pool.wait_free(5, timeout_s=90)
        await asyncio.sleep(1)
        ups = second.metrics.registry.get_sample_value(
            "botpool_scaler_scale_events_total", {"direction": "up", "reason": "shortage"}
        )
        assert not ups
    assert await pool.desired() == 7
    assert [(e["PreviousCount"], e["Count"]) for e in await pool.scale_events()] == [(3, 7)]


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "botpool_cli.main", *args], env={**env, "COLUMNS": "200"},
        capture_output=True, text=True, timeout=120, check=False,
    )


async def test_operator_override_scales_safely_and_is_recorded(
    pool: PoolHarness, tenants: Tenants, tmp_path: Path, stack: Stack
) -> None:
    await pool.submit(3)
    operator = stack.env()  # the operator CLI's own tokens
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CONSUL_HTTP_ADDR": operator["CONSUL_HTTP_ADDR"],
        "CONSUL_HTTP_TOKEN": operator["CONSUL_HTTP_TOKEN"], "NOMAD_ADDR": operator["NOMAD_ADDR"],
        "NOMAD_TOKEN": operator["NOMAD_TOKEN"], "BOTPOOL_STATE_DIR": str(tmp_path / "no-stack"),
    }
    grown = await asyncio.to_thread(_cli, env, "scale", "--count", "5", "--note", "promo weekend")
    assert grown.returncode == 0, grown.stdout + grown.stderr
    assert "from 3 to 5" in grown.stdout
    await pool.wait_free(5, timeout_s=90)
    # A tenant lands on the lowest free slot; put one on the top slot by taking all of them.
    for _ in range(5):
        await tenants.activate()
    for tenant in [t for t in tenants.active.values() if t.slot != 4]:
        await tenants.release(tenant)
    top = next(iter(tenants.active.values()))
    refused = await asyncio.to_thread(_cli, env, "scale", "--count", "3")
    assert refused.returncode == 1
    assert "slot 4 holds a tenant" in refused.stdout and "Traceback" not in refused.stdout + refused.stderr
    assert await pool.desired() == 5
    await tenants.answers(top)
    events = await pool.scale_events()
    assert [(e["PreviousCount"], e["Count"]) for e in events] == [(3, 5)]
    assert events[0]["Meta"]["reason"] == "manual" and events[0]["Meta"]["by"].startswith("operator:")
    assert "promo weekend" in events[0]["Message"]
