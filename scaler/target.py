"""Apply the scaler's decision to the Nomad group through the shared ``botpool.pool.scaling.PoolTarget``.

The safe mechanics (compare-and-set scale-ups, fenced scale-ins, sweeping fences) moved to the shared
package so ``botpool scale`` and the operator bot's ``/scale`` change the count exactly as the scaler
does; what stays here is the one step that is the scaler's alone: turning a ``Decision`` into a call.
"""

from __future__ import annotations

from botpool.pool.reading import PoolReading
from botpool.pool.scaling import DRAIN_TIMEOUT_S, FENCE_GRACE_S, FENCE_MAX_AGE_S, FENCE_REASON, Outcome
from botpool.pool.scaling import PoolTarget as SharedTarget
from scaler.strategy import Action, Decision

__all__ = ["DRAIN_TIMEOUT_S", "FENCE_GRACE_S", "FENCE_MAX_AGE_S", "FENCE_REASON", "Outcome", "PoolTarget"]


class PoolTarget(SharedTarget):
    """The shared pool target, plus carrying out the scaler's decisions."""

    async def apply(self, decision: Decision, reading: PoolReading, *, by: str = "scaler") -> Outcome:
        """Carry out a decision taken on ``reading`` (which must be fresh: its modify index guards the call)."""
        if decision.action is Action.UP:
            return await self.grow(decision.target, reading, reason=decision.reason, detail=decision.detail, by=by)
        if decision.action is Action.IN:
            return await self.shrink(decision.target, reading, reason=decision.reason, detail=decision.detail, by=by)
        return Outcome(False, reading.desired, "nothing_to_do")
