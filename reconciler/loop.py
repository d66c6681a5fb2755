"""One reconciliation pass and the loop that runs it on every pool change (and a timer)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from botpool.errors import BotpoolError
from botpool.leader import LeaderElection
from botpool.pool import protocol
from botpool.pool.model import Claim, ClaimKind, SlotMode, utcnow
from botpool.tenancy import store
from botpool.tenancy.activation import Activator

log = structlog.get_logger("reconciler")


@dataclass
class Timing:
    """How long a problem must persist before it is repaired, and how often to look without a trigger."""

    #: A claim whose slot is gone or was replaced is moved after this long (lets a slot re-adopt its claim).
    orphan_grace_s: float = 2.0
    #: An activation not acknowledged within this long is retried on another slot.
    ack_timeout_s: float = 20.0
    #: A tenant left in 'activating' by a crashed activator is picked up after this long.
    abandoned_after_s: float = 60.0
    #: Safety-net interval for time-based rules when nothing changes in Consul.
    tick_s: float = 2.0


@dataclass
class Reconciler:
    """Compares desired tenants with the pool and repairs what differs."""

    activator: Activator
    timing: Timing = field(default_factory=Timing)
    _first_seen: dict[str, float] = field(default_factory=dict)
    _inflight: set[str] = field(default_factory=set)

    def _persisting(self, problem: str, grace: float) -> bool:
        now = time.monotonic()
        first = self._first_seen.setdefault(problem, now)
        return now - first >= grace

    async def reconcile_once(self, snap: protocol.PoolSnapshot, now: datetime | None = None) -> list[str]:
        """Run one pass over ``snap``; returns what it did (for logs and tests)."""
        now = now or utcnow()
        db = self.activator.db
        actions: list[str] = []
        problems: set[str] = set()

        for tenant in await store.expired(db, now):
            await self.activator.release(tenant.tenant_id)
            actions.append(f"released expired {tenant.tenant_id}")

        desired = {t.tenant_id: t for t in await store.desired(db, now)}
        for tenant_id, (index, _) in snap.tenants.items():
            if tenant_id not in desired and tenant_id not in self._inflight:
                record = await store.get(db, tenant_id)
                if record is None or record.status in ("released", "failed"):
                    await protocol.release(self.activator.consul, tenant_id)
                    actions.append(f"released undesired {tenant_id} from slot {index}")

        wall = time.time()
        for tenant_id, tenant in desired.items():
            if tenant_id in self._inflight:
                continue
            if tenant.status == "activating" and wall - tenant.updated_at.timestamp() < self.timing.abandoned_after_s:
                continue  # an activator is (probably) still working on it
            held = snap.tenants.get(tenant_id)
            claim = snap.claims.get(held[0]) if held else None
            if held is None or claim is None or claim.kind is not ClaimKind.TENANT or claim.tenant_id != tenant_id:
                problems.add(f"unassigned:{tenant_id}")
                if self._persisting(f"unassigned:{tenant_id}", self.timing.orphan_grace_s):
                    self._start(tenant_id, None, None, actions, "unassigned")
                continue
            index = held[0]
            slot = snap.slots.get(index)
            if slot is None or slot.session != claim.slot_session:
                key = f"orphan:{tenant_id}:{claim.attempt}"
                problems.add(key)
                if self._persisting(key, self.timing.orphan_grace_s):
                    self._start(tenant_id, index, claim, actions, "slot gone" if slot is None else "slot restarted")
                continue
            if slot.attempt == claim.attempt and slot.mode is SlotMode.ACTIVE:
                if tenant.status != "active" or tenant.slot_index != index:
                    await store.mark(db, tenant_id, "active", slot_index=index, bot_username=slot.bot_username)
                continue
            if slot.attempt == claim.attempt and slot.error:
                self._start(tenant_id, index, claim, actions, f"slot refused: {slot.error[:80]}")
                continue
            if (now - claim.claimed_at).total_seconds() > self.timing.ack_timeout_s:
                self._start(tenant_id, index, claim, actions, "not acknowledged")

        for stale in set(self._first_seen) - problems:
            del self._first_seen[stale]
        return actions

    def _start(
        self, tenant_id: str, index: int | None, claim: Claim | None, actions: list[str], why: str
    ) -> None:
        """Re-activate in the background so one slow activation never stalls the pass."""
        self._inflight.add(tenant_id)
        actions.append(f"reactivating {tenant_id} ({why})")
        log.warning("reactivating tenant", tenant_id=tenant_id, slot=index, reason=why)

        async def work() -> None:
            try:
                if claim is not None and index is not None:
                    await protocol.drop_claim(self.activator.consul, index, claim)
                result = await self.activator.assign(tenant_id)
                log.info("tenant reactivated", tenant_id=tenant_id, slot=result.slot_index,
                         seconds=round(result.seconds, 3))
            except BotpoolError as exc:
                log.error("reactivation failed", tenant_id=tenant_id, error=str(exc))
            finally:
                self._inflight.discard(tenant_id)
                self._first_seen.pop(f"unassigned:{tenant_id}", None)

        asyncio.get_running_loop().create_task(work(), name=f"reactivate-{tenant_id}")

    async def run(self, stop: asyncio.Event, leader: LeaderElection) -> None:
        """Reconcile on every pool change and every tick while leader, until ``stop``."""
        index = 0
        while not stop.is_set():
            if not leader.is_leader:
                with contextlib.suppress(TimeoutError):  # asyncio.timeout: wait_for may swallow a cancel on 3.11
                    async with asyncio.timeout(self.timing.tick_s):
                        await leader.wait_leading()
                continue
            try:
                snap = await protocol.snapshot(
                    self.activator.consul, index=index or None, wait=f"{int(self.timing.tick_s)}s"
                )
                index = 0 if snap.index < index else snap.index
                actions = await self.reconcile_once(snap)
                if actions:
                    log.info("reconciled", actions=actions)
            except BotpoolError as exc:
                log.error("reconcile pass failed", error=str(exc))
                await asyncio.sleep(1)
