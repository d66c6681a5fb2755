"""Read the pool as the cluster sees it, into one immutable ``PoolReading``.

Shared by the scaler (its decisions), ``botpool scale`` and the operator bot (``/pool``, ``/scale``), so
an operator reads exactly the numbers the scaler acts on. The earlier pool monitor kept its pool size in
memory and lost it on restart. Here nothing about the pool lives in the scaler: the total is the group's
desired count in Nomad, the free slots are the healthy WAITING slots Consul
holds, and the slots on their way are the difference. A scaler that restarts,
or a standby that takes over, reads the same numbers the previous one did.

Why these sources:

- **Nomad** ``GET /v1/job/:id/scale``: the group's ``Desired`` count (what
  the pool *will* be), ``Placed``/``Running``, and the scaling events, whose
  last timestamp drives the scale-in cooldown (so the cooldown survives a
  restart too). The job itself gives ``scaling { min max }``, re-read only
  when the job's modify index moves.
- **Consul** (``botpool.pool.protocol.snapshot``): every slot's self-published
  state (its own catalog node, counted only while Nomad's registration of its
  allocation is alive) and every claim in ``botpool/pool/`` (tenant
  assignments and scale-in fences).
- **Consul health** of service ``bot-pool-slot`` (read with the snapshot): a
  slot counts as free only while its checks pass, so a slot being
  deregistered is never offered.
- **Leaving nodes** (``botpool.pool.nodes``, published in the same pool
  prefix by the reconciler from Nomad's node list): a slot on a node that is
  draining, ineligible or down is not free, and a tenant served there will
  need a slot elsewhere, so the scaler adds slots before the drain stops them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from consul.aio import Consul

from botpool.clients.nomad import NomadClient, NomadError
from botpool.pool import protocol
from botpool.pool.model import ClaimKind, SlotMode

#: Modes in which a slot serves, or is about to serve, a tenant: such a slot is never removed.
BUSY_MODES = frozenset({SlotMode.ACTIVE, SlotMode.ACTIVATING})


@dataclass(frozen=True)
class SlotView:
    """One slot as published in Consul: its index, allocation, mode, and whether its check passes."""

    index: int
    alloc_id: str
    mode: SlotMode
    healthy: bool
    modify_index: int
    session: str
    #: Whom the slot serves, as it publishes it (for the operator's per-slot list; decisions use claims).
    tenant_id: str | None = None
    bot_username: str | None = None


@dataclass(frozen=True)
class ClaimView:
    """One claim on a slot index: a tenant's assignment or a fence placed before a scale-in."""

    index: int
    kind: ClaimKind
    attempt: str
    alloc_id: str
    slot_session: str
    claimed_at: datetime
    modify_index: int
    tenant_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class PoolReading:
    """The whole pool at one moment, from Nomad and Consul; every count the scaler decides on derives from it.

    Only slots at an index below ``desired`` belong to the pool: a slot at a
    higher index is one Nomad is stopping after a scale-in and must never be
    counted as free.
    """

    at: float
    job_found: bool
    desired: int
    placed: int
    running: int
    job_modify_index: int
    scaling_min: int
    scaling_max: int | None
    last_scale_at: float | None
    slots: tuple[SlotView, ...]
    claims: tuple[ClaimView, ...]
    consul_index: int = 0
    #: Indexes of orphaned tenant claims (their tenant moved on): left for the reconciler to clean, never busy.
    orphans: frozenset[int] = frozenset()
    #: Allocations on draining, ineligible or down nodes (``botpool.pool.nodes``): going away, never free.
    leaving: frozenset[str] = frozenset()

    @cached_property
    def slot_at(self) -> dict[int, SlotView]:
        """Slots by index."""
        return {s.index: s for s in self.slots}

    @cached_property
    def claim_at(self) -> dict[int, ClaimView]:
        """Claims by index."""
        return {c.index: c for c in self.claims}

    @cached_property
    def free_indexes(self) -> tuple[int, ...]:
        """Indexes inside the group whose slot is healthy, WAITING, unclaimed and not leaving: what a buyer can get."""
        return tuple(
            s.index
            for s in sorted(self.slots, key=lambda v: v.index)
            if s.index < self.desired and s.healthy and s.mode is SlotMode.WAITING and s.index not in self.claim_at
            and s.alloc_id not in self.leaving
        )

    @property
    def free(self) -> int:
        """How many slots a buyer could claim right now."""
        return len(self.free_indexes)

    @cached_property
    def missing_indexes(self) -> tuple[int, ...]:
        """Indexes inside the group with no healthy slot: placed-but-not-yet-healthy, or restarting."""
        healthy = {s.index for s in self.slots if s.healthy}
        return tuple(i for i in range(self.desired) if i not in healthy)

    @property
    def present(self) -> int:
        """Healthy slots inside the group, whatever their mode."""
        return self.desired - len(self.missing_indexes)

    @property
    def pending(self) -> int:
        """Slots Nomad was asked for that are not (yet, or no longer) healthy in Consul: capacity on its way."""
        return len(self.missing_indexes)

    @property
    def pending_free(self) -> int:
        """Pending slots that will arrive free (a restarting slot that holds a tenant will not)."""
        return sum(1 for i in self.missing_indexes if i not in self.busy_indexes)

    @cached_property
    def busy_indexes(self) -> frozenset[int]:
        """Indexes holding a tenant: a tenant claim (even one whose slot is restarting) or an ACTIVE/ACTIVATING slot.

        An orphaned claim holds no tenant (its tenant is served elsewhere), so it does not count.
        """
        claimed = {c.index for c in self.claims if c.kind is ClaimKind.TENANT and c.index not in self.orphans}
        serving = {s.index for s in self.slots if s.mode in BUSY_MODES}
        return frozenset(claimed | serving)

    @property
    def busy(self) -> int:
        """How many slots hold a tenant."""
        return len(self.busy_indexes)

    @property
    def moving(self) -> int:
        """Tenants held on a leaving node: each will take a free slot elsewhere before (or when) its node goes."""
        return sum(1 for s in self.slots if s.alloc_id in self.leaving and s.index in self.busy_indexes)

    @property
    def active(self) -> int:
        """Slots whose tenant's bot is running."""
        return sum(1 for s in self.slots if s.mode is SlotMode.ACTIVE)

    @property
    def highest_busy(self) -> int | None:
        """The highest index holding a tenant, or None when no tenant is served."""
        return max(self.busy_indexes, default=None)

    @property
    def fences(self) -> tuple[ClaimView, ...]:
        """Fence claims (placed before a scale-in so no tenant lands on a slot about to go)."""
        return tuple(c for c in self.claims if c.kind is ClaimKind.FENCE)

    @property
    def shrink_floor(self) -> int:
        """The smallest count Nomad could shrink to while removing only free slots (it removes the top indexes)."""
        free = set(self.free_indexes)
        blocking = [i for i in range(self.desired) if i not in free]
        return max(blocking) + 1 if blocking else 0

    @property
    def utilisation(self) -> float:
        """Busy slots over the group's count (0 for an empty group)."""
        return self.busy / self.desired if self.desired else 0.0

    def counts(self) -> dict[str, int]:
        """The numbers every log line, metric and scale event carries."""
        return {
            "total": self.desired,
            "free": self.free,
            "busy": self.busy,
            "active": self.active,
            "pending": self.pending,
            "running": self.running,
            "moving": self.moving,
        }


@dataclass(frozen=True)
class _GroupSpec:
    """The group as the job document states it; ``count`` and ``job_modify_index`` come from the same read."""

    modify_index: int
    job_modify_index: int
    count: int
    scaling_min: int
    scaling_max: int | None


class PoolSource:
    """Reads ``PoolReading``s; caches only the job's scaling policy, keyed by the job's modify index."""

    def __init__(self, consul: Consul, nomad: NomadClient, *, job: str, group: str) -> None:
        self.consul = consul
        self.nomad = nomad
        self.job = job
        self.group = group
        self._spec: _GroupSpec | None = None

    async def read(self) -> PoolReading:
        """Read Nomad and Consul concurrently and combine them (a few milliseconds on a local cluster)."""
        nomad_part, snap = await asyncio.gather(self._read_nomad(), protocol.snapshot(self.consul))
        status, spec = nomad_part
        slots = tuple(
            SlotView(
                index=s.index, alloc_id=s.alloc_id, mode=s.mode, healthy=s.alloc_id in snap.passing,
                modify_index=s.modify_index, session=s.session, tenant_id=s.tenant_id, bot_username=s.bot_username,
            )
            for s in snap.slots.values()
        )
        claims = tuple(
            ClaimView(
                index=i, kind=c.kind, attempt=c.attempt, alloc_id=c.alloc_id, slot_session=c.slot_session,
                claimed_at=c.claimed_at, modify_index=c.modify_index, tenant_id=c.tenant_id, reason=c.reason,
            )
            for i, c in snap.claims.items()
        )
        orphans = frozenset(snap.orphan_claims())
        if status is None:
            return PoolReading(
                at=time.time(), job_found=False, desired=0, placed=0, running=0, job_modify_index=0,
                scaling_min=0, scaling_max=None, last_scale_at=None, slots=slots, claims=claims,
                consul_index=snap.index.kv, orphans=orphans, leaving=snap.leaving,
            )
        group = (status.get("TaskGroups") or {}).get(self.group) or {}
        events = [e for e in group.get("Events") or [] if not e.get("Error") and e.get("Count") is not None]
        last = max((int(e["Time"]) for e in events), default=None)
        return PoolReading(
            at=time.time(),
            job_found=spec is not None and not status.get("JobStopped", False),
            # Count and JobModifyIndex from one job read: a scale made with this index used this count.
            desired=spec.count if spec else int(group.get("Desired", 0)),
            placed=int(group.get("Placed", 0)),
            running=int(group.get("Running", 0)),
            job_modify_index=spec.job_modify_index if spec else 0,
            scaling_min=spec.scaling_min if spec else 0,
            scaling_max=spec.scaling_max if spec else None,
            last_scale_at=last / 1e9 if last is not None else None,
            slots=slots,
            claims=claims,
            consul_index=snap.index.kv,
            orphans=orphans,
            leaving=snap.leaving,
        )

    async def _read_nomad(self) -> tuple[dict[str, Any] | None, _GroupSpec | None]:
        try:
            status, _ = await self.nomad.scale_status(self.job)
        except NomadError as exc:
            if exc.status == 404:
                self._spec = None
                return None, None
            raise
        # The scale status's "JobModifyIndex" is the job's ModifyIndex (it moves on any job update); the
        # scale API's compare-and-set wants the job's own JobModifyIndex, so read the job when it moved.
        modify_index = int(status.get("JobModifyIndex", 0))
        if self._spec is None or self._spec.modify_index != modify_index:
            self._spec = await self._read_spec()
        return status, self._spec

    async def _read_spec(self) -> _GroupSpec | None:
        job = await self.nomad.job(self.job)
        if job is None:
            return None
        for group in job.get("TaskGroups") or []:
            if group.get("Name") == self.group:
                # Nomad enforces a group's scaling min and max on every scale request, enabled or not.
                scaling = group.get("Scaling") or {}
                return _GroupSpec(
                    modify_index=int(job.get("ModifyIndex", 0)),
                    job_modify_index=int(job.get("JobModifyIndex", 0)),
                    count=int(group.get("Count", 0)),
                    scaling_min=int(scaling.get("Min") or 0),
                    scaling_max=int(scaling["Max"]) if scaling.get("Max") is not None else None,
                )
        return None
