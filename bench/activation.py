"""Benchmark: how fast a paid tenant's bot answers, warm pool versus a fresh allocation; slot cost at rest.

Runs the real stack (its own, on free ports), the real pool job and the
Telegram stand-in. Warm latency is measured from the moment the assignment is
written until the tenant's bot has answered /start through the stand-in (the
client's /start is queued just before, so the answer is the bot's first act).
The cold path scales the group by one and times the same thing from the scale
call. Also measured: RSS of a waiting slot (median over the idle slots that
have not served a tenant) next to a bare Python process that only imports
aiogram (the floor); the largest RSS of a slot that served the warm runs and
went back to WAITING (a released slot starts afresh, so it should be a fresh
slot's size: ``rss_after_serving_over_fresh_mb``); and CPU used by 50 idle
waiting slots over 60 s.

Last line: one JSON object (seconds and MB), with ``calibration`` (``bench.calibration``, measured
before the stack starts) and the headline figures' ``ratios`` to it.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import psutil
from pydantic import SecretStr

from bench import calibration
from bench.harness import bench_system
from bench.machine import describe
from botpool import jobspec
from botpool.clients import vault as vault_client
from botpool.clients.nomad import NomadClient
from botpool.pool import protocol
from botpool.tenancy import store
from botpool.tenancy.activation import Activator, TenantSpec
from botpool.tenancy.package import secret_path
from devstack.standins.telegram.client import TelegramControl, TgUser

WARM_RUNS = int(os.environ.get("BENCH_WARM_RUNS", "60"))
COLD_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "3"))
IDLE_SLOTS = int(os.environ.get("BENCH_IDLE_SLOTS", "50"))
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "60"))
CLIENT = TgUser(id=99001, first_name="Bench")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: with 60 samples p99 is the worst but one)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def slot_processes() -> list[psutil.Process]:
    """Processes running ``python -m bot_runtime`` (one per slot)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if "bot_runtime" in cmd and "-m" in cmd:
            found.append(proc)
    return found


def floor_rss_mb() -> float:
    """RSS of a bare interpreter that imported aiogram and nothing else."""
    code = "import aiogram.types, aiogram, os, sys; sys.stdout.write('ready\\n'); sys.stdout.flush(); sys.stdin.read()"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdin is not None
    proc.stdout.readline()
    rss = psutil.Process(proc.pid).memory_info().rss / 2**20
    proc.stdin.close()
    proc.wait()
    return rss


async def one_activation(
    act: Activator, control: TelegramControl, *, cold: NomadClient | None = None, count: int = 0
) -> float:
    """Activate one fresh tenant and return seconds from assignment (or scale call) to its bot's answer."""
    bot = await control.create_bot(f"bench_{uuid.uuid4().hex[:8]}_bot")
    tenant_id = f"t_{uuid.uuid4().hex[:12]}"
    spec = TenantSpec(tenant_id=tenant_id, bot_token=SecretStr(bot.token), admin_telegram_id=1,
                      company_name="Bench Salon", paid_until=datetime.now(UTC) + timedelta(days=1))
    await store.upsert(act.db, tenant_id=tenant_id, company_name="Bench Salon", admin_telegram_id=1,
                       bot_id=bot.id, paid_until=spec.paid_until, timezone="Europe/Moscow", language="ru")
    await act.provision(spec)
    wrapped = await asyncio.to_thread(vault_client.read_wrapped, act.vault, act.kv_mount, secret_path(tenant_id))
    if cold is None:
        await protocol.wait_until(act.consul, lambda s: bool(s.free()), timeout_s=60)  # not timed
    await control.send_message(bot, CLIENT, "/start")
    started = time.perf_counter()
    if cold is not None:
        await cold.scale(jobspec.POOL.id, jobspec.POOL.group, count, message="bench: cold path")
        new = count - 1
        await protocol.wait_until(act.consul, lambda s: new in s.slots and new not in s.claims, timeout_s=120)
        # Only the brand-new allocation counts: exclude every warm slot.
        await protocol.claim(act.consul, tenant_id, act.deliverer(wrapped), exclude=set(range(new)))
    else:
        await protocol.claim(act.consul, tenant_id, act.deliverer(wrapped))
    await control.wait_for_message(bot, CLIENT.id, contains="Bench Salon", timeout=60)
    elapsed = time.perf_counter() - started
    await act.release(tenant_id)
    await control.revoke_bot(bot.token)
    return elapsed


async def main() -> None:
    calib = calibration.measure()  # before the stack starts: the machine is still quiet
    async with bench_system() as system:
        nomad, consul, control, act = system.nomad, system.consul, system.control, system.activator
        await jobspec.submit_pool(nomad, count=4, env=system.slot_env)
        await protocol.wait_until(consul, lambda s: len(s.free()) >= 4, timeout_s=180)

        warm = [await one_activation(act, control) for _ in range(WARM_RUNS)]

        # Every slot has served tenants; a released one starts afresh (bot_runtime recycles it), so wait
        # until all are free again and their start-up work (imports, prewarm) has settled.
        await protocol.wait_until(consul, lambda s: len(s.free()) >= 4, timeout_s=60)
        await asyncio.sleep(5)
        served_rss = [p.memory_info().rss / 2**20 for p in slot_processes()]
        floor = floor_rss_mb()

        cold = []
        count = 4
        for _ in range(COLD_RUNS):
            count += 1
            cold.append(await one_activation(act, control, cold=nomad, count=count))

        served = {p.pid for p in slot_processes()}  # these slots have run tenants; the idle ones added next are fresh
        await nomad.scale(jobspec.POOL.id, jobspec.POOL.group, IDLE_SLOTS, message="bench: idle measurement")
        await protocol.wait_until(consul, lambda s: len(s.free()) >= IDLE_SLOTS, timeout_s=600)
        # Let start-up work settle: a slot joins the pool first and then prewarms (about 0.4 s of CPU), so
        # the last of 50 to join are still prewarming when all are free.
        await asyncio.sleep(20)
        procs = slot_processes()
        before = {p.pid: sum(p.cpu_times()[:2]) for p in procs}
        await asyncio.sleep(IDLE_SECONDS)
        used = sum(sum(p.cpu_times()[:2]) - before[p.pid] for p in procs if p.pid in before and p.is_running())
        idle_cpu_pct = 100 * used / IDLE_SECONDS
        # A waiting slot as buyers find it: one that has not served a tenant yet.
        fresh = {p.pid for p in procs} - served
        rss = [p.memory_info().rss / 2**20 for p in slot_processes() if p.pid in fresh]

        result = {
            "p50": round(percentile(warm, 50), 4), "p95": round(percentile(warm, 95), 4),
            "p99": round(percentile(warm, 99), 4), "warm_runs": len(warm),
            "cold_median": round(statistics.median(cold), 3), "cold_runs": len(cold),
            "ratio": round(statistics.median(cold) / statistics.median(warm), 1),
            "rss_mb": round(statistics.median(rss), 1), "floor_mb": round(floor, 1),
            "rss_after_serving_mb": round(max(served_rss), 1),
            "rss_after_serving_over_fresh_mb": round(max(served_rss) - statistics.median(rss), 1),
            "idle_slots": len(procs), "idle_cpu_pct": round(idle_cpu_pct, 2),
            "targets": {
                "p99_s": 1.0, "ratio": 10, "rss_over_floor_mb": 25, "rss_after_serving_over_fresh_mb": 10,
                "idle_cpu_pct": 5,
            },
            "machine": describe(),
        }
        result["rss_over_floor_mb"] = round(statistics.median(rss) - floor, 1)
        result["calibration"] = calib
        result["ratios"] = calibration.ratios(result, calib, {
            "p99": "cpu_s", "cold_median": "import_s", "rss_mb": "import_rss_mb",
            "rss_after_serving_mb": "import_rss_mb", "idle_cpu_pct": "cpu_s",
        })
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
