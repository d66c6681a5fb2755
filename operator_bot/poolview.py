"""The numbers ``/pool`` shows, derived from one ``PoolReading`` (the scaler's own view of Consul and Nomad).

Kept apart from the handler so the arithmetic has one home: free, busy and utilisation are the reading's
own (what the scaler decides on), and "pending" splits what is on its way in or out.
"""

from __future__ import annotations

from dataclasses import dataclass

from botpool.pool.model import ClaimKind, SlotMode
from botpool.pool.reading import PoolReading


@dataclass(frozen=True)
class PoolCounts:
    """The summary lines of ``/pool``."""

    total: int
    free: int
    busy: int
    active: int
    activating: int
    draining: int
    leaving: int
    starting: int
    utilisation: float

    @property
    def pending(self) -> int:
        """Slots neither free nor serving: activating, draining, on a leaving node, or not up yet."""
        return self.activating + self.draining + self.leaving + self.starting


@dataclass(frozen=True)
class SlotLine:
    """One line of the per-slot list."""

    index: int
    state: str
    tenant_id: str | None
    bot_username: str | None
    healthy: bool
    leaving: bool


def counts(reading: PoolReading) -> PoolCounts:
    """The summary of one reading (only slots inside the group count, as for the scaler)."""
    inside = [s for s in reading.slots if s.index < reading.desired]
    fenced = {c.index for c in reading.fences}  # a scale-in's fence: about to drain
    return PoolCounts(
        total=reading.desired,
        free=reading.free,
        busy=reading.busy,
        active=sum(1 for s in inside if s.mode is SlotMode.ACTIVE),
        activating=sum(1 for s in inside if s.mode is SlotMode.ACTIVATING),
        draining=sum(
            1 for s in inside if s.mode is SlotMode.DRAINING or (s.mode is SlotMode.WAITING and s.index in fenced)
        ),
        leaving=sum(
            1 for s in inside if s.alloc_id in reading.leaving and s.mode is SlotMode.WAITING and s.index not in fenced
        ),
        starting=reading.pending,
        utilisation=reading.utilisation,
    )


def slot_lines(reading: PoolReading) -> list[SlotLine]:
    """Every index inside the group and every slot published above it (one Nomad is stopping), by index."""
    indexes = sorted(set(range(reading.desired)) | set(reading.slot_at))
    lines = []
    for i in indexes:
        slot = reading.slot_at.get(i)
        claim = reading.claim_at.get(i)
        if slot is None:
            state = "starting" if i < reading.desired else "gone"
        elif claim is not None and claim.kind is ClaimKind.FENCE and slot.mode is SlotMode.WAITING:
            state = "fenced"
        else:
            state = slot.mode.value
        tenant = (slot.tenant_id if slot is not None else None) or (claim.tenant_id if claim is not None else None)
        lines.append(SlotLine(
            index=i, state=state, tenant_id=tenant, bot_username=slot.bot_username if slot is not None else None,
            healthy=slot is not None and slot.healthy, leaving=slot is not None and slot.alloc_id in reading.leaving,
        ))
    return lines
