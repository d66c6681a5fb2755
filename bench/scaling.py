"""Benchmark: how fast the scaler answers a shortage, how fast a batch turns healthy, and a ramp to 100 slots.

Runs its own real stack (free ports), the real ``jobs/bot-pool.nomad.hcl``, the
Telegram stand-in and the scaler in this process with the seeds' settings
(MIN_FREE_BOTS=3, SCALE_BATCH=5). Shortages are made by real activations
(Vault handoff, tenant schema and Redis user, a bot answering through the
stand-in), as buyers would make them.

- ``reaction_s``: from the claim that left fewer than MIN_FREE_BOTS free
  (its ``claimed_at`` in Consul) to the time of Nomad's scale event; the
  median and worst of ``ROUNDS`` shortages.
- ``batch_healthy_s``: from that scale event until the 5 new slots are
  healthy in Consul and WAITING (each imports aiogram: ~3 s of CPU on 2 cores).
- ``ramp_s`` / ``ramp_mem_gb``: the group raised from its size to 100 in
  batches of SCALE_BATCH (each batch requested when the previous one is
  healthy, as sustained demand would), until all 100 are free; memory is the
  summed PSS of the slot processes at 100 (PSS splits shared pages fairly),
  plus the machine's used-memory growth over the ramp. ``stable`` says whether
  all 100 stayed passing with no restart for ``HOLD_S`` seconds afterwards.

Last line: one JSON object, with ``calibration`` (``bench.calibration``, measured before the stack
starts) and the headline figures' ``ratios`` to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
from pydantic import SecretStr

from bench import calibration
from bench.activation import slot_processes
from bench.harness import bench_system
from bench.machine import describe
from botpool import jobspec, logs, wiring
from botpool import settings as cfg
from botpool.clients.nomad import NomadClient
from botpool.pool import keys, protocol
from botpool.tenancy.activation import TenantSpec
from scaler.service import Scaler
from scaler.settings import ScalerSettings

ROUNDS = int(os.environ.get("BENCH_SCALING_ROUNDS", "3"))
RAMP_TO = int(os.environ.get("BENCH_RAMP_TO", "100"))
HOLD_S = float(os.environ.get("BENCH_HOLD_S", "30"))
START = 10
MIN_FREE, BATCH = 3, 5


async def scale_events(nomad: NomadClient) -> list[dict[str, Any]]:
    """The group's scale events (not the registration), oldest first."""
    status, _ = await nomad.scale_status(jobspec.POOL.id)
    events = status["TaskGroups"][jobspec.POOL.group].get("Events") or []
    return sorted((e for e in events if e.get("Count") is not None), key=lambda e: int(e["Time"]))


async def wait_event_count(nomad: NomadClient, n: int, timeout_s: float = 30) -> dict[str, Any]:
    """Block on the scale status until the ``n``-th scale event exists; return it."""
    index = 0
    async with asyncio.timeout(timeout_s):
        while True:
            events = await scale_events(nomad)
            if len(events) >= n:
                return events[n - 1]
            _, index = await nomad.scale_status(jobspec.POOL.id, index=index, wait="5s")


async def restarts(nomad: NomadClient) -> int:
    """Task restarts over the pool's running allocations."""
    allocs, _ = await nomad.allocations_blocking(jobspec.POOL.id, index=0, wait="1s")
    total = 0
    for alloc in allocs:
        for state in (alloc.get("TaskStates") or {}).values():
            total += int(state.get("Restarts") or 0)
    return total


def at_least_free(n: int) -> Callable[[protocol.PoolSnapshot], bool]:
    """A ``wait_until`` predicate: ``n`` or more slots are free."""
    return lambda snap: len(snap.free()) >= n


def pss_gb() -> float:
    """Summed proportional set size of every slot process."""
    total = 0
    for proc in slot_processes():
        try:
            total += proc.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / 2**30


async def main() -> None:
    logs.setup("bench", level="WARNING", json=False)  # the in-process scaler's decisions would bury the result
    calib = calibration.measure()  # before the stack starts: the machine is still quiet
    async with bench_system() as system, contextlib.AsyncExitStack() as cleanup:
        nomad, consul, control, act = system.nomad, system.consul, system.control, system.activator
        slot_env = system.slot_env
        settings = ScalerSettings.model_validate({
            "MIN_FREE_BOTS": MIN_FREE, "SCALE_BATCH": BATCH, "MAX_TOTAL_BOTS": RAMP_TO, "CHECK_INTERVAL": 30,
            "MAX_FREE_BOTS": RAMP_TO, "SCALE_IN_COOLDOWN": 3600, "NOMAD_PORT_http": 0,
            "BOTPOOL_SCALER_INSTANCE": "bench",
        })
        # The scaler runs with its own role's Consul and Nomad tokens, as the pool-scaler job does: the
        # operator's Consul token (the benchmark's own clients) may not register its election service.
        role_env = system.stack.role_env("scaler")
        scaler_consul = await cleanup.enter_async_context(wiring.consul(cfg.load(cfg.ConsulSettings, role_env)))
        scaler_nomad = await cleanup.enter_async_context(wiring.nomad(cfg.load(cfg.NomadSettings, role_env)))
        scaler = Scaler(settings, scaler_consul, scaler_nomad)
        stop = asyncio.Event()
        tenants: list[str] = []

        async def activate() -> None:
            bot = await control.create_bot(f"bench_{uuid.uuid4().hex[:8]}_bot")
            tenant_id = f"t_{uuid.uuid4().hex[:12]}"
            await act.activate(TenantSpec(
                tenant_id=tenant_id, bot_token=SecretStr(bot.token), admin_telegram_id=1, company_name="Bench Salon",
                paid_until=datetime.now(UTC) + timedelta(days=1),
            ))
            tenants.append(tenant_id)

        try:
            await jobspec.submit_pool(nomad, count=START, env=slot_env, max_count=RAMP_TO)
            await protocol.wait_until(consul, lambda s: len(s.free()) >= START, timeout_s=300)
            runner_task = asyncio.create_task(scaler.run(stop))
            await asyncio.wait_for(scaler.election.wait_leading(), 30)

            reactions: list[float] = []
            batches: list[float] = []
            for n in range(1, ROUNDS + 1):
                # Buyers arrive until fewer than MIN_FREE_BOTS are free: the last claim is the shortage.
                snap = await protocol.snapshot(consul)
                for _ in range(len(snap.free()) - MIN_FREE + 1):
                    await activate()
                event = await wait_event_count(nomad, n)
                snap = await protocol.snapshot(consul)
                shortage_at = max(c.claimed_at.timestamp() for c in snap.claims.values())
                scaled_at = int(event["Time"]) / 1e9
                reactions.append(scaled_at - shortage_at)
                want = int(event["Count"]) - len(tenants)
                await protocol.wait_until(consul, at_least_free(want), timeout_s=120)
                batches.append(time.time() - scaled_at)

            # The ramp: the scaler steps aside (its band would hold the pool where it is), then batch after batch.
            stop.set()
            await runner_task
            for tenant_id in tenants:
                await act.release(tenant_id)
            # Back to 10 slots, all free (safe: nothing is busy), so the ramp goes 10 -> 100.
            count = START
            await nomad.scale(jobspec.POOL.id, jobspec.POOL.group, count, message="bench: back to the start")
            await protocol.wait_until(consul, lambda s: len(s.slots) == count and len(s.free()) == count, timeout_s=120)
            used_before = psutil.virtual_memory().used
            ramp_started = time.monotonic()
            while count < RAMP_TO:
                count = min(RAMP_TO, count + BATCH)
                await nomad.scale(jobspec.POOL.id, jobspec.POOL.group, count, message=f"bench: ramp to {count}")
                await protocol.wait_until(consul, at_least_free(count), timeout_s=300)
            ramp_s = time.monotonic() - ramp_started
            ramp_mem_gb = pss_gb()
            used_growth_gb = (psutil.virtual_memory().used - used_before) / 2**30
            restarts_before = await restarts(nomad)
            await asyncio.sleep(HOLD_S)
            _, checks = await consul.health.checks(keys.SLOT_SERVICE)
            passing = sum(1 for c in checks if c["Status"] == "passing")
            snap = await protocol.snapshot(consul)
            stable = passing == RAMP_TO and len(snap.free()) == RAMP_TO and await restarts(nomad) == restarts_before

            result = {
                "reaction_s": round(statistics.median(reactions), 3), "reaction_max_s": round(max(reactions), 3),
                "batch_healthy_s": round(statistics.median(batches), 2), "batch_healthy_max_s": round(max(batches), 2),
                "rounds": ROUNDS, "ramp_from": START, "ramp_to": RAMP_TO,
                "ramp_s": round(ramp_s, 1), "ramp_mem_gb": round(ramp_mem_gb, 2),
                "ramp_used_growth_gb": round(used_growth_gb, 2), "stable": stable, "hold_s": HOLD_S,
                "targets": {"reaction_s": 1.0, "batch_healthy_s": 12, "ramp_to": 100, "ramp_mem_gb": 10,
                            "batch_healthy_s/import_s": 2.5},
                "machine": describe(),
            }
            result["ramp_pss_mb_per_slot"] = round(ramp_mem_gb * 1024 / RAMP_TO, 1)
            result["calibration"] = calib
            result["ratios"] = calibration.ratios(result, calib, {
                "batch_healthy_s": "import_s", "ramp_s": "import_s", "ramp_pss_mb_per_slot": "import_rss_mb",
            })
        finally:
            stop.set()
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
