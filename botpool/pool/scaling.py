"""Change the pool group's count safely: compare-and-set scale-ups, fenced scale-ins, and the operator's override.

Shared by the scaler (which decides), ``botpool scale`` and the operator bot's ``/scale`` (where a person
decides): all three change the count through ``PoolTarget``, and both overrides go through ``override``,
so the rule that no busy slot is ever stopped is written once.

**Growing** is one ``POST /v1/job/bot-pool/scale`` carrying the job modify
index the decision was read at. Nomad applies it only if the job is
unchanged, so a retry after a lost response, a second scaler instance or a
concurrent ``botpool scale`` can never stack a second scale-up on the first
or push the count past the cap computed from the count they read. "Blocked
due to active deployment" and transient errors are retried with exponential
backoff (tenacity); a changed job ends the attempt and the caller re-decides
from a fresh reading.

**Shrinking** is where a tenant could be cut off, because Nomad removes the
highest name indexes whatever they run. So, in order:

1. every slot at an index >= the new count must be free in the reading;
2. **fence** them: one Consul transaction that, per slot, creates a FENCE
   claim with CAS (index 0). A buyer's
   claim uses the same CAS on the same key, so exactly one of the two wins;
   if a buyer got there first the whole transaction fails and nothing is
   touched. Each fenced slot publishes DRAINING, so nothing else lands on it;
3. wait (blocking queries) until the fenced slots show DRAINING, then
   **re-read** Nomad and Consul and check again that every slot to remove is
   fenced by us and not serving, and that the group is unchanged;
4. scale down with the same compare-and-set;
5. on any failure, remove the fences (each with its own CAS) so the slots
   return to WAITING. After a successful shrink the fences stay until Nomad
   has stopped those allocations; ``sweep_fences`` then removes them, so a
   slot placed later at the same index does not start out fenced.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from consul.aio import Consul
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from botpool.clients.nomad import JobChanged, NomadClient, NomadError, ScaleBlocked
from botpool.errors import BotpoolError, DependencyUnavailable
from botpool.pool import keys, protocol
from botpool.pool.model import Claim, ClaimKind, SlotMode, utcnow
from botpool.pool.reading import BUSY_MODES, ClaimView, PoolReading, PoolSource

log = structlog.get_logger("botpool.pool.scaling")

#: The reason an operator's override carries in Nomad's scaling event (the scaler's ``Reason.MANUAL``).
MANUAL = "manual"

#: Fence claims created by a scale-in carry a reason starting with this, so sweeps touch only those.
FENCE_REASON = "scale-in"
#: How long fenced slots may take to publish DRAINING before the scale-in is abandoned.
DRAIN_TIMEOUT_S = 10.0
#: A scale-in that took longer than this from fencing to the scale call is abandoned (sweeps honour FENCE_GRACE_S).
FENCE_MAX_AGE_S = 20.0
#: A fence inside the group younger than this may belong to a scale-in in progress elsewhere; it is left alone.
FENCE_GRACE_S = 60.0
#: How long scale requests are retried while Nomad is unreachable or blocked by a deployment.
RETRY_FOR_S = 30.0

LeaderCheck = Callable[[], Awaitable[bool]]


async def _always() -> bool:
    return True


@dataclass(frozen=True)
class Outcome:
    """What happened to a decision: applied or not, the count now asked of Nomad, and why."""

    applied: bool
    count: int
    cause: str
    detail: str = ""


def _retryable(exc: BaseException) -> bool:
    """Back off and retry: deployment blocks, an unreachable Nomad, Nomad's own 5xx (but not a changed job)."""
    if isinstance(exc, JobChanged):
        return False
    if isinstance(exc, (ScaleBlocked, DependencyUnavailable)):
        return True
    return isinstance(exc, NomadError) and exc.status >= 500


def _age_s(claimed_at: datetime) -> float:
    return (utcnow() - claimed_at).total_seconds()


class PoolTarget:
    """Changes the group's count through Nomad, and fences slots in Consul before removing them."""

    def __init__(
        self,
        consul: Consul,
        nomad: NomadClient,
        source: PoolSource,
        *,
        instance: str,
        is_leader: LeaderCheck = _always,
        retry_for_s: float = RETRY_FOR_S,
    ) -> None:
        self.consul = consul
        self.nomad = nomad
        self.source = source
        self.instance = instance
        self.is_leader = is_leader
        self.retry_for_s = retry_for_s

    def _meta(self, reading: PoolReading, target: int, reason: str, detail: str, by: str) -> dict[str, Any]:
        return {
            "reason": str(reason),
            "detail": detail,
            "by": by,
            "instance": self.instance,
            "from": reading.desired,
            "target": target,
            **reading.counts(),
        }

    async def _scale(
        self, reading: PoolReading, target: int, *, job_modify_index: int, reason: str, detail: str, by: str
    ) -> Outcome:
        """One compare-and-set scale, retried with backoff while Nomad is blocked or unreachable."""
        meta = self._meta(reading, target, reason, detail, by)
        message = f"botpool {by}: {reason}: {detail}"[:500]
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable),
            wait=wait_exponential_jitter(multiplier=0.25, max=5, jitter=0.25),
            stop=stop_after_delay(self.retry_for_s),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    if not await self.is_leader():
                        return Outcome(False, reading.desired, "not_leader", "leadership lost before the scale call")
                    n = attempt.retry_state.attempt_number
                    if n > 1:
                        log.info("retrying scale", attempt=n, target=target, reason=str(reason))
                    await self.nomad.scale(
                        self.source.job, self.source.group, target, job_modify_index=job_modify_index,
                        message=message, meta=meta,
                    )
        except JobChanged as exc:
            return Outcome(False, reading.desired, "job_changed", exc.message)
        except ScaleBlocked as exc:
            return Outcome(False, reading.desired, "blocked", exc.message)
        except (NomadError, DependencyUnavailable) as exc:
            return Outcome(False, reading.desired, "error", str(exc))
        return Outcome(True, target, "scaled", detail)

    # ------------------------------------------------------------------ grow
    async def grow(
        self, target: int, reading: PoolReading, *, reason: str, detail: str, by: str = "scaler"
    ) -> Outcome:
        """Raise the group's count to ``target`` if the job is still as read (never stacks two scale-ups)."""
        if target <= reading.desired:
            return Outcome(False, reading.desired, "nothing_to_do")
        return await self._scale(
            reading, target, job_modify_index=reading.job_modify_index, reason=reason, detail=detail, by=by
        )

    # ---------------------------------------------------------------- shrink
    async def shrink(
        self, target: int, reading: PoolReading, *, reason: str, detail: str, by: str = "scaler"
    ) -> Outcome:
        """Lower the count to ``target`` removing only free slots: fence, re-check, scale, or undo the fences."""
        desired = reading.desired
        doomed = range(target, desired)
        if target >= desired:
            return Outcome(False, desired, "nothing_to_do")
        free = set(reading.free_indexes)
        not_free = [i for i in doomed if i not in free]
        if not_free:
            return Outcome(False, desired, "unsafe", f"slots {not_free} are not free")
        attempt = f"{by}-{uuid.uuid4().hex[:12]}"
        placed = await self._fence(reading, doomed, attempt, f"{FENCE_REASON} {desired}->{target} by {self.instance}")
        if placed is None:
            return Outcome(False, desired, "fence_lost", "a claim landed on a slot first; nothing was changed")
        fenced_at = time.monotonic()
        log.info("slots fenced for scale-in", slots=list(doomed), attempt=attempt, target=target)
        try:
            outcome = await self._finish_shrink(reading, target, doomed, attempt, fenced_at, reason, detail, by)
        except BaseException:
            await self._unfence(placed)
            raise
        if not outcome.applied:
            await self._unfence(placed)
            log.warning("scale-in abandoned; fences removed", cause=outcome.cause, detail=outcome.detail)
        return outcome

    async def _fence(self, reading: PoolReading, doomed: range, attempt: str, why: str) -> dict[int, int] | None:
        """Fence every doomed slot in one transaction; the fences' modify indexes, or None if a claim won."""
        ops: list[dict[str, Any]] = []
        now = utcnow()
        for i in doomed:
            slot = reading.slot_at[i]
            fence = Claim(
                kind=ClaimKind.FENCE, attempt=attempt, slot_session=slot.session, alloc_id=slot.alloc_id,
                claimed_at=now, reason=why,
            )
            ops.append(protocol.kv_op("cas", keys.claim(i), value=fence.to_json(), index=0))
        results = await protocol.transact(self.consul, ops)
        if results is None:
            return None
        return {i: int(results[n]["KV"]["ModifyIndex"]) for n, i in enumerate(doomed)}

    async def _unfence(self, placed: dict[int, int]) -> None:
        """Remove our fences (each only if unchanged), returning those slots to WAITING."""
        for i, modify_index in placed.items():
            await protocol.transact(self.consul, [protocol.kv_op("delete-cas", keys.claim(i), index=modify_index)])

    async def _finish_shrink(
        self,
        reading: PoolReading,
        target: int,
        doomed: range,
        attempt: str,
        fenced_at: float,
        reason: str,
        detail: str,
        by: str,
    ) -> Outcome:
        desired = reading.desired

        def settled(snap: protocol.PoolSnapshot) -> bool:
            for i in doomed:
                claim = snap.claims.get(i)
                if claim is None or claim.attempt != attempt:
                    return True  # our fence is gone: stop waiting, the re-check below fails
                state = snap.slots.get(i)
                drained = state is None or (state.mode is SlotMode.DRAINING and state.attempt == attempt)
                if not drained:
                    # Serving a tenant: stop waiting (the re-check refuses). Still WAITING: keep waiting.
                    return state is not None and state.mode in BUSY_MODES
            return True

        try:
            await protocol.wait_until(self.consul, settled, timeout_s=DRAIN_TIMEOUT_S)
        except TimeoutError:
            return Outcome(False, desired, "drain_timeout", f"fenced slots did not drain within {DRAIN_TIMEOUT_S} s")

        fresh = await self.source.read()
        if fresh.desired != desired or fresh.job_modify_index != reading.job_modify_index:
            return Outcome(False, desired, "job_changed", f"the group changed to {fresh.desired} meanwhile")
        for i in doomed:
            fence = fresh.claim_at.get(i)
            if fence is None or fence.kind is not ClaimKind.FENCE or fence.attempt != attempt:
                return Outcome(False, desired, "fence_lost", f"slot {i} lost its fence")
            slot = fresh.slot_at.get(i)
            if slot is not None and (slot.mode is not SlotMode.DRAINING or slot.alloc_id != fence.alloc_id):
                return Outcome(False, desired, "unsafe", f"slot {i} is {slot.mode.value}, not draining")
        if fresh.highest_busy is not None and fresh.highest_busy >= target:
            return Outcome(False, desired, "unsafe", f"slot {fresh.highest_busy} holds a tenant")
        if time.monotonic() - fenced_at > FENCE_MAX_AGE_S:
            return Outcome(False, desired, "too_slow", "fencing took too long; the fences may be swept")
        return await self._scale(
            fresh, target, job_modify_index=fresh.job_modify_index, reason=reason, detail=detail, by=by
        )

    # ----------------------------------------------------------------- sweep
    async def sweep_fences(self, reading: PoolReading) -> list[int]:
        """Remove scale-in fences that have done their job or were left behind; returns the cleared indexes.

        A fence is removed when the allocation it fenced has left the pool (its
        slot key is gone or belongs to a new allocation) and Nomad no longer
        runs it, or when it sits inside the group for longer than
        ``FENCE_GRACE_S`` on an allocation Nomad still wants running (a
        scale-in that was abandoned by a crash). A fence on a slot Nomad is
        stopping stays, so nothing can claim a slot that is about to go.
        """
        cleared = []
        for fence in reading.fences:
            if not (fence.reason or "").startswith(FENCE_REASON):
                continue
            if await self._fence_done(fence, reading):
                ok = await protocol.transact(
                    self.consul, [protocol.kv_op("delete-cas", keys.claim(fence.index), index=fence.modify_index)]
                )
                if ok is not None:
                    cleared.append(fence.index)
        if cleared:
            log.info("scale-in fences cleared", slots=cleared)
        return cleared

    async def _fence_done(self, fence: ClaimView, reading: PoolReading) -> bool:
        slot = reading.slot_at.get(fence.index)
        same_alloc = slot is not None and slot.alloc_id == fence.alloc_id
        inside = fence.index < reading.desired
        young = _age_s(fence.claimed_at) < FENCE_GRACE_S
        if same_alloc and (not inside or young):
            return False  # being stopped by Nomad, or a scale-in may be in progress (here or in ``botpool scale``)
        alloc = await self.nomad.allocation(fence.alloc_id)
        gone = (
            alloc is None
            or alloc.get("DesiredStatus") != "run"
            or alloc.get("ClientStatus") in ("complete", "failed", "lost")
        )
        if gone:
            return not same_alloc  # left the pool: done; its key still there: keep until it goes
        return inside and not young  # Nomad wants it running inside the group: an abandoned scale-in


# -------------------------------------------------------------- override
class OverrideRefused(BotpoolError):
    """The requested count would stop a busy slot, break the cap, or cannot be applied safely right now.

    ``code`` names the rule and ``values`` its numbers, so a caller that speaks another language than
    this message (the operator bot's catalogs) tells the operator the same thing in theirs.
    """

    def __init__(self, message: str, code: str, **values: object) -> None:
        super().__init__(message)
        self.code = code
        self.values = values


@dataclass(frozen=True)
class OverrideResult:
    """What the override did: the count before and after, and whether Nomad was asked at all."""

    before: int
    after: int
    changed: bool
    detail: str


def lowest_allowed(reading: PoolReading) -> int:
    """The fewest slots the group may have: its scaling min, and never zero (the pool job stays alive)."""
    return max(1, reading.scaling_min)


def check_count(count: int, reading: PoolReading, max_total: int) -> None:
    """Refuse a count that would stop a busy slot or leave the allowed range; explain which rule and why."""
    if not reading.job_found:
        raise OverrideRefused("the pool job is not running; nothing to scale", "no_job")
    highest = reading.highest_busy
    if highest is not None and count < highest + 1:
        raise OverrideRefused(
            f"refusing {count}: slot {highest} holds a tenant and Nomad removes the highest indexes first, "
            f"so the pool cannot go below {highest + 1} without stopping a busy slot",
            "below_busy", slot=highest, floor=highest + 1,
        )
    low = lowest_allowed(reading)
    if count < low:
        raise OverrideRefused(f"refusing {count}: the group's minimum is {low}", "below_min", low=low)
    limit = min(max_total, reading.scaling_max) if reading.scaling_max is not None else max_total
    if count > limit:
        raise OverrideRefused(
            f"refusing {count}: above the cap of {limit} (MAX_TOTAL_BOTS={max_total}, "
            f"job scaling max={reading.scaling_max})",
            "above_cap", limit=limit,
        )


async def override(
    source: PoolSource, target: PoolTarget, count: int, *, max_total: int, operator: str, note: str = "",
    reading: PoolReading | None = None,
) -> OverrideResult:
    """Set the group's count to ``count`` safely; raises ``OverrideRefused`` with the reason when it cannot.

    ``reading`` (fresh from ``source``) spares a second read when the caller has just checked the count.
    """
    reading = reading or await source.read()
    check_count(count, reading, max_total)
    before = reading.desired
    detail = f"manual override {before}->{count} by {operator}" + (f": {note}" if note else "")
    log.warning("manual override", operator=operator, before=before, count=count, note=note, **reading.counts())
    if count == before:
        return OverrideResult(before, before, False, "already at that count")
    if count > before:
        outcome = await target.grow(count, reading, reason=MANUAL, detail=detail, by=f"operator:{operator}")
    else:
        top = [i for i in range(count, before) if i not in set(reading.free_indexes)]
        if top:
            raise OverrideRefused(
                f"refusing {count} for now: slots {top} are not free (starting, draining or claimed); "
                "retry in a few seconds",
                "not_free", slots=", ".join(map(str, top)),
            )
        outcome = await target.shrink(count, reading, reason=MANUAL, detail=detail, by=f"operator:{operator}")
    if not outcome.applied:
        raise OverrideRefused(f"not applied ({outcome.cause}): {outcome.detail}", "not_applied", cause=outcome.cause)
    log.warning("manual override applied", operator=operator, before=before, count=count)
    return OverrideResult(before, count, True, detail)
