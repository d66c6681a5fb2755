"""Claim, release and watch pool slots atomically through Consul.

``claim`` takes the **lowest-index** free healthy slot so busy slots pack at
low indexes: Nomad removes the highest name indexes when the group shrinks, so
packing low is what lets the scaler shrink without touching a busy slot. The
claim, the tenant's slot record and a check that the slot is still the same
waiting slot go in **one Consul transaction**, so concurrent claimers in any
number of processes can never hand one slot to two tenants or two slots to
one tenant.

A value under the prefix that cannot be read (written by hand, or by a
version with an incompatible record) is skipped: the rest of the pool stays
usable, the key is reported once per ``ModifyIndex`` (a log line and an
alert), and a slot whose claim key is unreadable is not offered, because its
claim key is taken.

A slot on a Nomad node that is draining, ineligible or down is not free
either: the reconciler publishes those allocations (``botpool.pool.nodes``),
``free()`` leaves them out, and every claim checks in its transaction that the
published list is the one it read, so no tenant lands on a slot that is leaving.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from consul.aio import Consul

from botpool import alerts
from botpool.errors import AccessDenied, ClaimConflict, PoolExhausted
from botpool.pool import keys
from botpool.pool.model import (
    Claim,
    ClaimKind,
    KvRecord,
    MalformedRecord,
    SlotMode,
    SlotState,
    tenant_slot_index,
    utcnow,
    validate_tenant_id,
)
from botpool.pool.nodes import Leaving

log = structlog.get_logger("botpool.pool")

R = TypeVar("R", bound=KvRecord)

#: (key, ModifyIndex) of unreadable values this process has reported; pruned to those still present.
_reported: set[tuple[str, int]] = set()


@dataclass
class PoolSnapshot:
    """A consistent read of the whole pool prefix at one Consul index."""

    index: int
    slots: dict[int, SlotState] = field(default_factory=dict)
    claims: dict[int, Claim] = field(default_factory=dict)
    tenants: dict[str, tuple[int, int]] = field(default_factory=dict)  # tenant -> (slot index, modify index)
    unreadable: dict[str, int] = field(default_factory=dict)  # key -> modify index, for values skipped
    #: Allocations on nodes that are draining, ineligible or down (``botpool.pool.nodes``): never offered.
    leaving: frozenset[str] = frozenset()
    #: ModifyIndex of the published leaving record (0: none published), which every claim checks.
    leaving_index: int = 0

    def free(self) -> list[SlotState]:
        """Waiting slots with no claim and not on a leaving node, lowest index first: what a buyer can get now."""
        return sorted(
            (
                s for i, s in self.slots.items()
                if s.mode is SlotMode.WAITING and i not in self.claims and keys.claim(i) not in self.unreadable
                and s.alloc_id not in self.leaving
            ),
            key=lambda s: s.index,
        )

    def on_leaving_node(self) -> list[SlotState]:
        """Slots whose allocation sits on a leaving node, lowest index first (whatever they are doing)."""
        return sorted((s for s in self.slots.values() if s.alloc_id in self.leaving), key=lambda s: s.index)

    def active(self) -> list[SlotState]:
        """Slots serving a tenant."""
        return [s for s in self.slots.values() if s.mode is SlotMode.ACTIVE]

    def orphan_claims(self) -> dict[int, Claim]:
        """Tenant claims their tenant's record does not point at: left over, never to be served.

        A claim and its tenant's record are written and removed together, so a
        tenant claim without the record naming its index is an orphan: the
        tenant was moved to another slot (claimed twice) or its record removed.
        A claim whose tenant record is unreadable is not judged.
        """
        orphans: dict[int, Claim] = {}
        for index, claim in self.claims.items():
            if claim.kind is not ClaimKind.TENANT:
                continue
            if claim.tenant_id and keys.tenant(claim.tenant_id) in self.unreadable:
                continue
            held = self.tenants.get(claim.tenant_id or "")
            if held is None or held[0] != index:
                orphans[index] = claim
        return orphans


def kv_op(verb: str, key: str, *, value: str | None = None, index: int | None = None) -> dict[str, Any]:
    """One operation of a Consul KV transaction for ``transact`` (the pool changes only through transactions)."""
    op: dict[str, Any] = {"Verb": verb, "Key": key}
    if value is not None:
        op["Value"] = base64.b64encode(value.encode()).decode()
    if index is not None:
        op["Index"] = index
    return {"KV": op}


async def transact(consul: Consul, ops: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """Run a Consul KV transaction; the per-operation results if all applied, None if a check failed.

    py-consul's ``txn.put`` raises on the 409 Consul uses for a failed check, so
    the raw response is read instead to tell a lost race from a real error.
    """
    response = await consul.http.put(
        lambda r: r, "/v1/txn", data=json.dumps(ops), headers=consul.prepare_headers(None)
    )
    if response.code == 200:
        results: list[dict[str, Any]] = json.loads(response.body).get("Results") or []
        return results
    if response.code == 409:
        return None
    if response.code == 403:
        raise AccessDenied(f"Consul refused this token a pool transaction: {response.body[:200]!r}")
    raise ClaimConflict(f"Consul transaction failed with HTTP {response.code}: {response.body[:200]!r}")


async def report_unreadable(consul: Consul, key: str, modify_index: int, error: str) -> None:
    """Tell operators, once per key and ``ModifyIndex``, that a value was skipped (a log line and an alert).

    Every reader meets the same bad value on every poll; this process logs it
    once, and the alert's id names the key and index so that all processes
    together raise it once. A failure to write the alert is logged, never raised:
    reporting must not stop the reader either.
    """
    if (key, modify_index) in _reported:
        return
    _reported.add((key, modify_index))
    log.warning("unreadable value skipped", key=key, modify_index=modify_index, error=error)
    alert_id = f"unreadable-{hashlib.sha256(key.encode()).hexdigest()[:16]}-{modify_index}"
    try:
        await alerts.raise_alert_once(
            consul, alert_id, "unreadable_record", f"the value of {key} cannot be read and is ignored: {error}",
            key=key, modify_index=modify_index,
        )
    except Exception as exc:  # the log line above already tells the operator
        log.warning("could not raise the unreadable-value alert", key=key, error=repr(exc))


async def decode(consul: Consul, record: type[R], entry: dict[str, Any]) -> R | None:
    """Decode one KV entry as ``record``; None (reported once) if it is unreadable, so a reader skips it."""
    try:
        return record.from_kv(entry)
    except MalformedRecord as exc:
        await report_unreadable(consul, str(entry["Key"]), int(entry["ModifyIndex"]), str(exc))
        return None


async def snapshot(consul: Consul, *, index: int | None = None, wait: str = "30s") -> PoolSnapshot:
    """Read the pool prefix; with ``index`` this is a blocking query that returns on change.

    Unreadable values are skipped and listed in ``unreadable`` (and reported once), never raised.
    """
    new_index, entries = await consul.kv.get(keys.POOL, recurse=True, index=index, wait=wait if index else None)
    snap = PoolSnapshot(index=int(new_index))
    for entry in entries or []:
        key: str = entry["Key"]
        if entry.get("Value") is None:
            continue
        try:
            if key.startswith(keys.SLOTS):
                state = SlotState.from_kv(entry)
                snap.slots[state.index] = state
            elif key.startswith(keys.CLAIMS):
                snap.claims[keys.index_of(key)] = Claim.from_kv(entry)
            elif key.startswith(keys.TENANTS):
                snap.tenants[key[len(keys.TENANTS) :]] = (tenant_slot_index(entry), int(entry["ModifyIndex"]))
            elif key == keys.LEAVING:
                snap.leaving_index = int(entry["ModifyIndex"])  # before decoding: a claim must check even a bad one
                snap.leaving = frozenset(Leaving.from_kv(entry).allocs)
        except (MalformedRecord, ValueError) as exc:  # ValueError: a key not ending in a slot index
            snap.unreadable[key] = int(entry["ModifyIndex"])
            await report_unreadable(consul, key, int(entry["ModifyIndex"]), str(exc))
    if index is None or snap.index != index:
        _reported.intersection_update(snap.unreadable.items())
    return snap


async def watch(consul: Consul, *, wait: str = "30s") -> AsyncIterator[PoolSnapshot]:
    """Yield pool snapshots as they change (blocking queries; the index resets if it goes backwards)."""
    index = 0
    while True:
        snap = await snapshot(consul, index=index or None, wait=wait)
        if snap.index < index:
            index = 0
            continue
        if snap.index != index:
            yield snap
        index = snap.index


#: Called once a claim of this process has won, to hand the tenant's secret to that slot (through Vault).
Deliver = Callable[[SlotState, Claim], Awaitable[None]]


async def claim(
    consul: Consul, tenant_id: str, deliver: Deliver, *, exclude: set[int] | None = None, attempts: int = 50,
    reserved: Claim | None = None,
) -> tuple[SlotState, Claim]:
    """Assign ``tenant_id`` to the lowest-index free slot and return that slot and the claim.

    The claim names the tenant, the attempt and the slot's allocation, never a
    secret: everything in Consul is readable by every slot. Once the claim has
    won, ``deliver`` hands the secret to that one allocation (the per-allocation
    handoff in Vault, ``botpool.pool.handoff``); only then, never for a claim
    that lost its race, so no slot ever holds a token it was not assigned. If
    ``deliver`` raises, the claim is withdrawn and the error re-raised.

    Idempotent per tenant: if the tenant already holds a slot, that slot's claim
    is returned and nothing changes (its claimer delivered). Raises ``PoolExhausted`` when no free slot
    exists (the scaler is adding some). ``exclude`` skips slots that just failed
    this tenant, so a retry lands elsewhere. A tenant whose slot vanished but
    whose claim remains is moved with its old claim deleted in the same
    transaction: a returning old process finds no claim to re-adopt, so one
    bot never runs in two slots.

    ``reserved`` is a fence from ``reserve``: while it still stands, the claim
    replaces it on that slot (no one else could take the slot meanwhile);
    once it is gone, the claim takes the lowest free slot as usual.
    """
    validate_tenant_id(tenant_id)
    for _ in range(attempts):
        snap = await snapshot(consul)
        held = snap.tenants.get(tenant_id)
        if held is not None and held[0] in snap.claims and held[0] in snap.slots:
            return snap.slots[held[0]], snap.claims[held[0]]
        slot, replaces = _reservation(snap, reserved)
        if slot is None:
            candidates = [s for s in snap.free() if s.index not in (exclude or set())]
            if not candidates:
                raise PoolExhausted(f"no free slot for tenant {tenant_id} ({len(snap.slots)} slots, all busy)")
            slot = candidates[0]
        record = Claim(
            kind=ClaimKind.TENANT, attempt=uuid.uuid4().hex, slot_session=slot.session,
            alloc_id=slot.alloc_id, claimed_at=utcnow(), tenant_id=tenant_id,
        )
        ops = [
            kv_op("check-index", keys.slot(slot.index), index=slot.modify_index),
            kv_op("cas", keys.claim(slot.index), value=record.to_json(), index=replaces),
        ]
        if held is not None:
            # A stale record (its claim or its slot is gone): replace it, but only if nobody changed it meanwhile.
            ops.append(kv_op("cas", keys.tenant(tenant_id), value=str(slot.index), index=held[1]))
            old = snap.claims.get(held[0])
            if old is not None and old.kind is ClaimKind.TENANT and old.tenant_id == tenant_id:
                # Last, so the results above keep their positions (a delete returns none).
                ops.append(kv_op("delete-cas", keys.claim(held[0]), index=old.modify_index))
        else:
            unreadable = snap.unreadable.get(keys.tenant(tenant_id), 0)  # an unreadable record is replaced too
            ops.append(kv_op("cas", keys.tenant(tenant_id), value=str(slot.index), index=unreadable))
        # The slot was not on a leaving node when read, and the list of those has not changed since.
        if snap.leaving_index:
            ops.append(kv_op("check-index", keys.LEAVING, index=snap.leaving_index))
        else:
            ops.append(kv_op("check-not-exists", keys.LEAVING))
        results = await transact(consul, ops)
        if results is not None:
            record.modify_index = int(results[1]["KV"]["ModifyIndex"])
            try:
                await deliver(slot, record)
            except BaseException:
                with contextlib.suppress(Exception):  # the original error is the one to report
                    await drop_claim(consul, slot.index, record)
                raise
            return slot, record
        await asyncio.sleep(0)  # lost a race: read again and try the next lowest slot
    raise ClaimConflict(f"could not claim a slot for {tenant_id} after {attempts} attempts")


def _reservation(snap: PoolSnapshot, reserved: Claim | None) -> tuple[SlotState | None, int]:
    """The slot ``reserved`` still holds and the fence's index to replace; (None, 0) if it no longer stands."""
    if reserved is None:
        return None, 0
    for index, current in snap.claims.items():
        if current.kind is ClaimKind.FENCE and current.attempt == reserved.attempt:
            slot = snap.slots.get(index)
            if slot is not None and slot.session == current.slot_session and slot.alloc_id not in snap.leaving:
                return slot, current.modify_index
    return None, 0


async def reserve(consul: Consul, snap: PoolSnapshot, slot: SlotState, reason: str) -> Claim | None:
    """Fence one free slot of ``snap`` for a tenant about to move onto it; the fence, or None if the slot was taken.

    Checked like a claim (the slot unchanged, no claim on it, the leaving
    record unchanged), so a reservation never lands on a slot someone else got
    first. ``claim(..., reserved=fence)`` turns it into the tenant's claim;
    ``drop_claim`` gives it back.
    """
    fence = Claim(
        kind=ClaimKind.FENCE, attempt=uuid.uuid4().hex, slot_session=slot.session, alloc_id=slot.alloc_id,
        claimed_at=utcnow(), reason=reason,
    )
    ops = [
        kv_op("check-index", keys.slot(slot.index), index=slot.modify_index),
        kv_op("cas", keys.claim(slot.index), value=fence.to_json(), index=0),
        kv_op("check-index", keys.LEAVING, index=snap.leaving_index) if snap.leaving_index
        else kv_op("check-not-exists", keys.LEAVING),
    ]
    results = await transact(consul, ops)
    if results is None:
        return None
    fence.modify_index = int(results[1]["KV"]["ModifyIndex"])
    return fence


async def release(consul: Consul, tenant_id: str) -> int | None:
    """Remove a tenant's claim and slot record atomically; returns the freed index (None if none)."""
    validate_tenant_id(tenant_id)
    for _ in range(20):
        snap = await snapshot(consul)
        held = snap.tenants.get(tenant_id)
        if held is None:
            return None
        index, record_index = held
        ops = [kv_op("delete-cas", keys.tenant(tenant_id), index=record_index)]
        current = snap.claims.get(index)
        if current is not None and current.tenant_id == tenant_id:
            ops.append(kv_op("delete-cas", keys.claim(index), index=current.modify_index))
        if await transact(consul, ops) is not None:
            return index
    raise ClaimConflict(f"could not release {tenant_id}: the pool kept changing")


async def drop_claim(consul: Consul, index: int, claim_record: Claim) -> bool:
    """Delete one specific claim (and its tenant record) if unchanged; used to retry a failed activation."""
    ops = [kv_op("delete-cas", keys.claim(index), index=claim_record.modify_index)]
    if claim_record.tenant_id:
        snap = await snapshot(consul)
        held = snap.tenants.get(claim_record.tenant_id)
        if held is not None and held[0] == index:
            ops.append(kv_op("delete-cas", keys.tenant(claim_record.tenant_id), index=held[1]))
    return await transact(consul, ops) is not None


async def wait_until(
    consul: Consul, predicate: Callable[[PoolSnapshot], bool], *, timeout_s: float
) -> PoolSnapshot:
    """Block (Consul blocking queries, no sleep loop) until ``predicate`` holds; TimeoutError otherwise."""

    async def run() -> PoolSnapshot:
        async for snap in watch(consul, wait="10s"):
            if predicate(snap):
                return snap
        raise AssertionError("unreachable")

    async with asyncio.timeout(timeout_s):  # not wait_for: on 3.11 it can swallow a cancellation (gh-86296)
        return await run()
