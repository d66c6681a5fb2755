"""The scaler on real Nomad and Consul with the real job files: what an operator and a paying tenant notice.

Each test starts from a purged pool and submits jobs/bot-pool.nomad.hcl with
the few slots it needs (every slot imports aiogram: the machine has 2 cores).
Busy slots are real tenants (Vault handoff, their own PostgreSQL role and
Redis user, a bot answering /start through the Telegram stand-in), so "no
active tenant is ever stopped" is checked against bots that really serve.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

from botpool.pool import keys
from scaler.leader import LeaderElection
from tests.scaler.conftest import PoolHarness, Tenants, running_scaler

#: Small pools for a 2-core machine: the band [MIN_FREE_BOTS, MAX_FREE_BOTS] and one batch.
SMALL = {"MIN_FREE_BOTS": 2, "SCALE_BATCH": 2, "MAX_FREE_BOTS": 4, "MAX_TOTAL_BOTS": 12,
         "SCALE_IN_COOLDOWN": 600, "CHECK_INTERVAL": 30}


async def lock_holder(pool: PoolHarness) -> str | None:
    """The instance name in the scaler lock, or None while nobody leads."""
    return await LeaderElection(pool.consul, instance="probe").holder()


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
        reaction = int(events[0]["Time"]) / 1e9 - datetime.fromisoformat(claim.claimed_at).timestamp()
        assert 0 <= reaction <= 1.0, f"scale-up {reaction:.3f} s after the shortage"
        for tenant in tenants.active.values():
            await tenants.answers(tenant)
