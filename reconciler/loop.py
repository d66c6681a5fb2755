"""One reconciliation pass and the loop that runs it on every pool change (and a timer).

The loop outlives any failure: a pass that raises (Consul answering 5xx, a
connection reset, PostgreSQL restarting) is logged once with its cause, the
loop pauses with a doubling, bounded delay and carries on, and says so when
passes succeed again. A loop that died silently while its process kept the
leader lock would leave every tenant of a dead slot unserved.

A tenant served on a node that is leaving (draining, ineligible or down, as
``botpool.pool.nodes`` publishes it) is moved before Nomad stops its slot:
a few tenants at a time, each break-before-make (its claim is removed and its old slot
seen to stop before a slot on another node is claimed, so one bot is never
polled from two slots), and only once a free slot elsewhere is reserved for it
(fenced, so a buyer activating meanwhile cannot take it).
Each moved tenant is silent for about one activation.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from botpool.errors import ActivationFailed, ActivationPending, InvalidTenantSpec, TenantSecretMissing
from botpool.leader import LeaderElection
from botpool.logs import redact
from botpool.pool import protocol
from botpool.pool.model import Claim, ClaimKind, SlotMode, utcnow
from botpool.tenancy import rotation, store
from botpool.tenancy.activation import Activator
from reconciler.metrics import ReconcilerMetrics

log = structlog.get_logger("reconciler")

#: Reason of the fence that reserves a free slot for a tenant moving off a leaving node.
MOVE_REASON = "move"
#: A move reservation older than this that no move of this process owns was left by a leader that died.
RESERVATION_MAX_AGE_S = 60.0


@dataclass
class Timing:
    """How long a problem must persist before it is repaired, how often to look, and how retries are paced."""

    #: A claim whose slot is gone or was replaced is moved after this long (a check failing once is no death).
    orphan_grace_s: float = 2.0
    #: An activation not acknowledged within this long is retried on another slot.
    ack_timeout_s: float = 20.0
    #: A tenant left in 'activating' by a crashed activator is picked up after this long.
    abandoned_after_s: float = 60.0
    #: Safety-net interval for time-based rules when nothing changes in Consul.
    tick_s: float = 2.0
    #: Pause after a round of slot attempts that all failed the tenant; doubles with each round.
    retry_base_s: float = 10.0
    #: Longest pause between two rounds for one tenant (and after an unexpected error).
    retry_max_s: float = 300.0
    #: Failed rounds after which the tenant is marked failed and an operator alerted, not retried blindly.
    max_failed_rounds: int = 5
    #: Longest pause of the loop after a failed pass (it doubles from one second).
    error_pause_max_s: float = 30.0
    #: How long a tenant moved off a leaving node waits for its old slot to stop before it is claimed elsewhere.
    move_stop_timeout_s: float = 10.0
    #: Tenants moved off leaving nodes at once. One at a time took 1.5-4 s per tenant, so a node serving
    #: ten tenants was not empty by a 30 s drain deadline; three activations at once still fit two cores.
    max_moves: int = 3


@dataclass
class Reconciler:
    """Compares desired tenants with the pool and repairs what differs."""

    activator: Activator
    timing: Timing = field(default_factory=Timing)
    _first_seen: dict[str, float] = field(default_factory=dict)
    _inflight: set[str] = field(default_factory=set)
    #: Tenants whose last re-activation raised something unexpected: (monotonic time to retry at, pause).
    _retry_at: dict[str, tuple[float, float]] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    #: The tenants being moved off leaving nodes now (at most ``timing.max_moves``).
    _moving: set[str] = field(default_factory=set)
    #: Where repairs are counted by kind (``reconciler.metrics``); None counts nothing.
    metrics: ReconcilerMetrics | None = None

    def _did(self, actions: list[str], kind: str, text: str) -> None:
        """Note a repair in the pass's actions and count it by kind."""
        actions.append(text)
        self._count(kind)

    def _count(self, kind: str) -> None:
        if self.metrics is not None:
            self.metrics.repaired(kind)

    def _persisting(self, problem: str, grace: float) -> bool:
        now = time.monotonic()
        first = self._first_seen.setdefault(problem, now)
        return now - first >= grace

    def _due(self, tenant: store.TenantRecord, now: datetime) -> bool:
        """Whether a re-activation of ``tenant`` may start now (its stored and in-memory backoff are over)."""
        if tenant.next_attempt_at is not None and tenant.next_attempt_at > now:
            return False
        retry = self._retry_at.get(tenant.tenant_id)
        return retry is None or retry[0] <= time.monotonic()

    async def reconcile_once(self, snap: protocol.PoolSnapshot, now: datetime | None = None) -> list[str]:
        """Run one pass over ``snap``; returns what it did (for logs and tests)."""
        now = now or utcnow()
        db = self.activator.db
        actions: list[str] = []
        problems: set[str] = set()

        for tenant in await store.expired(db, now):
            if await self._guarded(tenant.tenant_id, "release", self.activator.release_expired(tenant.tenant_id, now)):
                self._did(actions, "release_expired", f"released expired {tenant.tenant_id}")

        for tenant in await store.past_retention(db, now):
            if await self._guarded(tenant.tenant_id, "delete", self._delete(tenant, now)):
                actions.append(f"deleted {tenant.tenant_id} after its retention period")

        desired = {t.tenant_id: t for t in await store.desired(db, now)}
        for tenant_id, (index, _) in snap.tenants.items():
            if tenant_id not in desired and tenant_id not in self._inflight:
                record = await store.get(db, tenant_id)
                undesired = record is None or record.status in ("released", "failed")
                if undesired and await self._guarded(
                    tenant_id, "release", protocol.release(self.activator.consul, tenant_id)
                ):
                    self._did(actions, "release_undesired", f"released undesired {tenant_id} from slot {index}")

        for index, orphan in snap.orphan_claims().items():
            key = f"orphan-claim:{index}:{orphan.attempt}"
            problems.add(key)
            if self._persisting(key, self.timing.orphan_grace_s) and await self._guarded(
                orphan.tenant_id or "", "drop orphan claim", protocol.drop_claim(self.activator.consul, index, orphan)
            ):
                self._did(actions, "drop_orphan_claim", f"dropped orphaned claim of {orphan.tenant_id} on slot {index}")

        wall = time.time()
        movable: list[tuple[int, store.TenantRecord, Claim]] = []
        for tenant_id, tenant in desired.items():
            if tenant_id in self._inflight:
                continue
            if tenant.status == "activating" and wall - tenant.updated_at.timestamp() < self.timing.abandoned_after_s:
                continue  # an activator is (probably) still working on it
            own = snap.own_claim(tenant_id)
            if own is None:
                problems.add(f"unassigned:{tenant_id}")
                if self._persisting(f"unassigned:{tenant_id}", self.timing.orphan_grace_s):
                    self._start(tenant, None, None, actions, "unassigned", now)
                continue
            index, claim = own
            home = snap.home(tenant_id)
            if home is None:  # homeless: its slot left the pool or started afresh
                key = f"orphan:{tenant_id}:{claim.attempt}"
                problems.add(key)
                if self._persisting(key, self.timing.orphan_grace_s):
                    why = "slot gone" if index not in snap.slots else "slot restarted"
                    self._start(tenant, index, claim, actions, why, now, homeless=True)
                continue
            slot = home[0]
            if slot.attempt == claim.attempt and slot.mode is SlotMode.ACTIVE:
                if (tenant.status != "active" or tenant.slot_index != index) and await self._guarded(
                    tenant_id, "mark active", store.mark(
                        db, tenant_id, "active", expected=(tenant.status,), slot_index=index,
                        bot_username=slot.bot_username,
                    ),
                ):
                    self._count("mark_active")
                if slot.alloc_id in snap.leaving:
                    movable.append((index, tenant, claim))
                continue
            if slot.attempt == claim.attempt and slot.error:
                self._start(tenant, index, claim, actions, f"slot refused: {slot.error[:80]}", now, refusal=slot.error)
                continue
            if (now - claim.claimed_at).total_seconds() > self.timing.ack_timeout_s:
                self._start(tenant, index, claim, actions, "not acknowledged", now)

        self._start_moves(sorted(movable, key=lambda m: m[0]), snap, actions, now)
        await self._sweep_reservations(snap, actions)

        for alloc_id in sorted(snap.unregistered):
            key = f"gone-slot:{alloc_id}"
            problems.add(key)
            if self._persisting(key, self.timing.orphan_grace_s) and await self._guarded(
                "", "remove a gone slot's state", protocol.remove_slot_record(self.activator.consul, alloc_id)
            ):
                self._did(actions, "remove_slot_record", f"removed the state of allocation {alloc_id}, gone from Nomad")

        for stale in set(self._first_seen) - problems:
            del self._first_seen[stale]
        return actions

    def _start_moves(
        self, movable: list[tuple[int, store.TenantRecord, Claim]], snap: protocol.PoolSnapshot,
        actions: list[str], now: datetime,
    ) -> None:
        """Start moving tenants served on a leaving node: one per free slot, at most ``max_moves`` under way.

        A bound keeps each tenant's silence to one activation (moves share the
        machine with buyers' activations); waiting for a free slot (the scaler
        adds them on other nodes) means a tenant is never taken off a slot that
        still serves it with nowhere to go.
        """
        # Tenants whose slot died are silent now; those on a leaving node still answer: re-homes go first.
        room = min(self.timing.max_moves - len(self._moving), len(snap.free()) - len(snap.homeless()))
        for index, tenant, claim in movable:
            if room <= 0:
                return
            if tenant.tenant_id in self._inflight or not self._due(tenant, now):
                continue
            room -= 1
            self._moving.add(tenant.tenant_id)
            self._inflight.add(tenant.tenant_id)
            self._did(actions, "move", f"moving {tenant.tenant_id} off slot {index} (its node is leaving)")
            log.info("moving tenant off a leaving node", tenant_id=tenant.tenant_id, slot=index,
                     alloc_id=claim.alloc_id)
            self._spawn(self._move(tenant.tenant_id, index, claim), tenant.tenant_id, name="move")

    async def _move(self, tenant_id: str, index: int, claim: Claim) -> None:
        """Move one tenant off a leaving node: reserve a slot, prepare, break (claim removed, old slot stopped), make.

        The reservation comes first, as soon as a slot is free (buyers waiting
        for one are woken by the same change). Everything that may fail by
        itself (the stored profile, the credentials) is done while the old slot
        still serves. The claim is removed only if it
        is still the one read, so a pass that raced a release or another leader
        changes nothing. A leader that dies midway leaves the tenant unassigned,
        which the next leader serves like any unassigned tenant (never on a
        leaving node, which is never free).
        """
        act = self.activator
        # Make sure of the new home first: a free slot fenced for this tenant, so no buyer takes it meanwhile.
        # The highest free one that is still free: buyers claim the lowest, and other moves take the highest
        # first too, so a move that loses one slot to them tries the next.
        fence: Claim | None = None
        target_index = -1
        for _ in range(3):
            snap = await protocol.snapshot(act.consul)
            offered = snap.offered(tenant_id)  # what tenants whose slot died do not need first
            for slot in reversed(offered):
                fence = await protocol.reserve(act.consul, snap, slot, f"{MOVE_REASON} {tenant_id}")
                if fence is not None:
                    target_index = slot.index
                    break
            if fence is not None or not offered:
                break
        if fence is None:
            log.info("no free slot to move to yet; the tenant stays where it is", tenant_id=tenant_id, slot=index)
            return  # the tenant keeps its slot and a later pass tries again
        try:
            try:  # while the old slot still serves
                if await act.check_stored_spec(tenant_id) is None:
                    return
                await act.restore_credentials(tenant_id)
            except (InvalidTenantSpec, TenantSecretMissing):
                await self._reactivate(tenant_id)  # fails the tenant with the right reason, as any re-home would
                return
            if not await protocol.drop_claim(act.consul, index, claim):
                log.info("the tenant's claim changed before the move; left to the next pass", tenant_id=tenant_id)
                return

            def stopped(snap: protocol.PoolSnapshot) -> bool:
                slot = snap.slots.get(index)
                return slot is None or slot.alloc_id != claim.alloc_id or slot.tenant_id != tenant_id

            try:
                await protocol.wait_until(act.consul, stopped, timeout_s=self.timing.move_stop_timeout_s)
            except TimeoutError:  # a slot that does not answer is dead or frozen (a frozen one never polls again)
                log.warning("old slot did not confirm it stopped; moving on", tenant_id=tenant_id, slot=index)
            await self._reactivate(tenant_id, prepared=True, reserved=fence)
        finally:
            with contextlib.suppress(Exception):  # unused (the claim replaced it, or it failed): give it back
                await protocol.drop_claim(act.consul, target_index, fence)

    async def _sweep_reservations(self, snap: protocol.PoolSnapshot, actions: list[str]) -> None:
        """Remove move reservations no move in this process owns and older than a minute (a leader that died)."""
        for index, fence in snap.claims.items():
            if fence.kind is not ClaimKind.FENCE or not (fence.reason or "").startswith(MOVE_REASON):
                continue
            if fence.reason in {f"{MOVE_REASON} {tenant_id}" for tenant_id in self._moving}:
                continue
            if (utcnow() - fence.claimed_at).total_seconds() > RESERVATION_MAX_AGE_S and await self._guarded(
                "", "drop reservation", protocol.drop_claim(self.activator.consul, index, fence)
            ):
                self._did(actions, "drop_reservation", f"dropped a stale move reservation on slot {index}")

    async def _delete(self, tenant: store.TenantRecord, now: datetime) -> bool:
        """Delete a tenant kept past its retention period: mark it first (a renewal now is refused), then remove."""
        db = self.activator.db
        if tenant.status == "released" and not await store.begin_deletion(db, tenant.tenant_id, now):
            return False  # renewed (or deleted by another reconciler) since it was read
        removed = await self.activator.delete(tenant.tenant_id)
        return await store.record_deletion(db, tenant.tenant_id, removed)

    async def _guarded(self, tenant_id: str, what: str, step: Awaitable[object]) -> bool:
        """Run one repair of one tenant; a failure is logged and skipped so it never holds up the others.

        Returns whether the step ran and reported doing something (a truthy result).
        """
        try:
            return bool(await step)
        except Exception as exc:
            log.warning("repair step failed; retried on a later pass", tenant_id=tenant_id, step=what,
                        error=_describe(exc))
            return False

    def _start(
        self, tenant: store.TenantRecord, index: int | None, claim: Claim | None, actions: list[str], why: str,
        now: datetime, *, refusal: str | None = None, homeless: bool = False,
    ) -> None:
        """Re-activate in the background so one slow activation never stalls the pass.

        ``refusal`` is the slot's error for ``claim``: a stolen handoff is recorded (durably, before
        the claim that shows it is dropped) and the tenant's credentials rotated before it moves.
        ``homeless``: the claim's slot died or started afresh. Its claim is kept, and the new claim
        replaces it in one transaction (``protocol.claim``): until then the tenant is offered free slots
        ahead of buyers (``PoolSnapshot.offered``), which it would lose once its claim were dropped.
        """
        tenant_id = tenant.tenant_id
        if not self._due(tenant, now):
            return
        self._inflight.add(tenant_id)
        self._did(actions, "reactivate_" + why.split(":", 1)[0].replace(" ", "_"), f"reactivating {tenant_id} ({why})")
        log.warning("reactivating tenant", tenant_id=tenant_id, slot=index, reason=why,
                    failed_rounds=tenant.activation_attempts)

        async def work() -> None:
            if claim is not None and refusal and index is not None:
                await rotation.alert_refusal(self.activator.consul, index, tenant_id, claim.attempt, refusal)
            if claim is not None and rotation.is_theft(refusal):
                await rotation.record(self.activator.db, tenant_id, claim.attempt, refusal or "")
            if claim is not None and index is not None and not homeless:
                await protocol.drop_claim(self.activator.consul, index, claim)
            await self._reactivate(tenant_id)

        self._spawn(work(), tenant_id, name="reactivate")

    def _spawn(self, work: Awaitable[None], tenant_id: str, *, name: str) -> None:
        """Run one tenant's repair in the background; a failure backs that tenant off, never the loop."""

        async def guarded() -> None:
            try:
                await work
                self._retry_at.pop(tenant_id, None)
            except Exception as exc:  # Vault, Consul or PostgreSQL unavailable, or a bug: back off, never die
                pause = min(self.timing.retry_max_s, 2 * self._retry_at.get(tenant_id, (0.0, 0.5))[1])
                self._retry_at[tenant_id] = (time.monotonic() + pause, pause)
                log.error("reactivation failed; retrying later", tenant_id=tenant_id, error=_describe(exc),
                          retry_in_s=pause)
            finally:
                self._inflight.discard(tenant_id)
                self._first_seen.pop(f"unassigned:{tenant_id}", None)
                self._moving.discard(tenant_id)

        task = asyncio.get_running_loop().create_task(guarded(), name=f"{name}-{tenant_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reactivate(self, tenant_id: str, *, prepared: bool = False, reserved: Claim | None = None) -> None:
        """Check, re-provision and re-assign one tenant; a failure that would repeat ends as 'failed' with an alert.

        ``prepared``: the profile was checked and the credentials restored just
        before (a move off a leaving node does that while the old slot serves);
        ``reserved`` is the slot fenced for the move.
        A bad stored specification, a secret missing from Vault and a token
        Telegram rejects fail the tenant at once. Slots that all fail it count
        one round (stored, with the time the next may start); after
        ``max_failed_rounds`` the tenant is failed too. No free slot is no
        fault of the tenant's and is not counted.
        """
        act = self.activator
        try:
            if not prepared:
                if await act.check_stored_spec(tenant_id) is None:
                    return  # the row is gone
                await act.restore_credentials(tenant_id)  # a crash between provisioning steps leaves them mismatched
            result = await act.assign(tenant_id, reserved=reserved)
        except InvalidTenantSpec as exc:
            await act.fail(tenant_id, f"{store.FAILED_BAD_SPECIFICATION}: {exc}")
        except TenantSecretMissing as exc:
            await act.fail(tenant_id, f"{store.FAILED_SECRET_MISSING}: {exc}; the bot token must be given again")
        except ActivationFailed as exc:
            log.warning("tenant refused for good", tenant_id=tenant_id, error=str(exc))  # failed and alerted
        except ActivationPending as exc:
            if not exc.slot_failures:
                log.info("the tenant waits (no free slot yet, or a new bot token)", tenant_id=tenant_id,
                         reason=str(exc)[:200])
                return
            rounds = await store.note_failed_round(
                act.db, tenant_id, str(exc)[:500], base_s=self.timing.retry_base_s, max_s=self.timing.retry_max_s
            )
            log.warning("slots failed the tenant", tenant_id=tenant_id, failed_rounds=rounds, error=str(exc))
            if rounds is not None and rounds >= self.timing.max_failed_rounds:
                reason = f"{rounds} rounds of slots failed to start it; last: {exc}"
                await act.fail(tenant_id, f"{store.FAILED_RETRIES_EXHAUSTED}: {reason}")
        else:
            log.info("tenant reactivated", tenant_id=tenant_id, slot=result.slot_index,
                     seconds=round(result.seconds, 3))

    async def run(self, stop: asyncio.Event, leader: LeaderElection) -> None:
        """Reconcile on every pool change and every tick while leader, until ``stop``; survives any error."""
        since: protocol.PoolIndex | None = None
        pause = 1.0
        failing: str | None = None
        while not stop.is_set():
            if not leader.is_leader:
                await _wait_any(self.timing.tick_s, leader.wait_leading)
                continue
            try:
                snap = await protocol.snapshot(
                    self.activator.consul, since=since, wait=f"{int(self.timing.tick_s)}s"
                )
                since = snap.index
                actions = await self.reconcile_once(snap)
            except Exception as exc:
                since = None  # read afresh: the failure may have been Consul itself
                described = _describe(exc)
                if described != failing:  # once per distinct failure, not once per pass
                    log.error("reconcile pass failed; retrying", error=described, retry_in_s=pause)
                failing = described
                await _wait_any(pause, stop.wait)
                pause = min(pause * 2, self.timing.error_pause_max_s)
                continue
            if failing is not None:
                log.info("reconcile passes succeed again", after=failing)
                failing, pause = None, 1.0
            if actions:
                log.info("reconciled", actions=actions)

    async def drain(self) -> None:
        """Cancel re-activations in flight (on stop; a new leader picks their tenants up)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def _wait_any(timeout_s: float, event: Callable[[], Awaitable[object]]) -> None:
    """Wait for ``event`` at most ``timeout_s`` seconds."""
    with contextlib.suppress(TimeoutError):  # asyncio.timeout: wait_for may swallow a cancel on 3.11
        async with asyncio.timeout(timeout_s):
            await event()


def _describe(exc: BaseException) -> str:
    """An exception as one short line for a log (its type and redacted message)."""
    return f"{type(exc).__name__}: {redact(str(exc))[:300]}"
