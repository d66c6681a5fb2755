"""Claim, release and watch pool slots atomically through Consul.

The pool is read from three places at once (``snapshot``):

- **each slot's state**: the meta of its own catalog node ``slot-<alloc id>``,
  which only that allocation's Consul token may write (``SlotState``);
- **Nomad's registration** of service ``bot-pool-slot``: which allocation
  holds which index (meta written by the Nomad client, which no slot can
  write) and whether its health check passes. A slot is in the pool only
  while Nomad registered its allocation at the index it states and its checks
  are not critical, so a dead, frozen or lying slot drops out by itself;
- **the KV prefix** ``botpool/pool/``: claims, tenants' records and the
  leaving nodes, written by the control plane only (no slot may write there).

``claim`` takes the **lowest-index** free healthy slot so busy slots pack at
low indexes: Nomad removes the highest name indexes when the group shrinks, so
packing low is what lets the scaler shrink without touching a busy slot. The
claim and the tenant's slot record go in **one Consul transaction**
(create-only), so concurrent claimers in any number of processes can never
hand one slot to two tenants or two slots to one tenant. The claim names the
slot's incarnation: a slot that restarted or started afresh since it was read
never consumes it, and the activator and reconciler see the mismatch at once.

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
from botpool.clients.consul import deregister_node
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


@dataclass(frozen=True)
class PoolIndex:
    """Consul's index of each of the three reads a snapshot combines; a watch blocks on all three."""

    kv: int = 0
    nodes: int = 0
    health: int = 0


@dataclass
class PoolSnapshot:
    """One read of the whole pool: the slots alive in Nomad's registration, and the pool prefix's records."""

    index: PoolIndex
    slots: dict[int, SlotState] = field(default_factory=dict)
    claims: dict[int, Claim] = field(default_factory=dict)
    tenants: dict[str, tuple[int, int]] = field(default_factory=dict)  # tenant -> (slot index, modify index)
    #: Keys (or ``catalog node <name>``) whose values were skipped as unreadable -> their modify index.
    unreadable: dict[str, int] = field(default_factory=dict)
    #: Allocations on nodes that are draining, ineligible or down (``botpool.pool.nodes``): never offered.
    leaving: frozenset[str] = frozenset()
    #: ModifyIndex of the published leaving record (0: none published), which every claim checks.
    leaving_index: int = 0
    #: Allocations with a state node but no registration in Nomad at all: gone; the reconciler removes the node.
    unregistered: set[str] = field(default_factory=set)
    #: Allocations whose every check passes (not merely "warning"): the only slots the scaler counts as free.
    passing: frozenset[str] = frozenset()

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

    def own_claim(self, tenant_id: str) -> tuple[int, Claim] | None:
        """The index and claim the tenant's record points at, if that claim is the tenant's own."""
        held = self.tenants.get(tenant_id)
        claim = self.claims.get(held[0]) if held is not None else None
        if held is None or claim is None or claim.kind is not ClaimKind.TENANT or claim.tenant_id != tenant_id:
            return None  # no claim of its own: unassigned, which the reconciler repairs
        return held[0], claim

    def home(self, tenant_id: str) -> tuple[SlotState, Claim] | None:
        """The slot holding the tenant's claim and that claim, if the very incarnation it was claimed on runs."""
        own = self.own_claim(tenant_id)
        slot = self.slots.get(own[0]) if own is not None else None
        if own is None or slot is None or (slot.alloc_id, slot.session) != (own[1].alloc_id, own[1].slot_session):
            return None
        return slot, own[1]

    def homeless(self) -> set[str]:
        """Tenants whose claimed slot left the pool or started afresh: served (or being served) until then.

        They are owed a slot before anyone new: a tenant whose node died must not wait for the
        scaler's next batch because buyers took the free slots meanwhile (``offered``).
        """
        return {t for t in self.tenants if self.own_claim(t) is not None and self.home(t) is None}

    def offered(self, tenant_id: str, exclude: set[int] | None = None) -> list[SlotState]:
        """The free slots ``tenant_id`` may claim now, lowest index first.

        A homeless tenant (``homeless``) may take any free slot; anyone else only those left over once
        every homeless tenant has one, so re-homes go first and buyers wait for the scaler's next slots.
        """
        free = [s for s in self.free() if s.index not in (exclude or set())]
        homeless = self.homeless()
        if tenant_id in homeless:
            return free
        return free[len(homeless):]

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


async def snapshot(consul: Consul, *, since: PoolIndex | None = None, wait: str = "30s") -> PoolSnapshot:
    """Read the pool; with ``since`` first wait (blocking queries, at most ``wait``) until any of its sources moved.

    Unreadable values are skipped and listed in ``unreadable`` (and reported once), never raised.
    """
    if since is not None:
        await _changed(consul, since, wait)
    (kv_index, entries), (nodes_index, nodes), (health_index, instances) = await asyncio.gather(
        consul.kv.get(keys.POOL, recurse=True),
        consul.catalog.nodes(node_meta=dict([keys.SLOT_NODE_META])),
        consul.health.service(keys.SLOT_SERVICE),
    )
    snap = PoolSnapshot(index=PoolIndex(int(kv_index), int(nodes_index), int(health_index)))
    for entry in entries or []:
        key: str = entry["Key"]
        if entry.get("Value") is None:
            continue
        try:
            if key.startswith(keys.CLAIMS):
                snap.claims[keys.index_of(key)] = Claim.from_kv(entry)
            elif key.startswith(keys.TENANTS):
                snap.tenants[key[len(keys.TENANTS) :]] = (tenant_slot_index(entry), int(entry["ModifyIndex"]))
            elif key == keys.LEAVING:
                snap.leaving_index = int(entry["ModifyIndex"])  # before decoding: a claim must check even a bad one
                snap.leaving = frozenset(Leaving.from_kv(entry).allocs)
        except (MalformedRecord, ValueError) as exc:  # ValueError: a key not ending in a slot index
            snap.unreadable[key] = int(entry["ModifyIndex"])
            await report_unreadable(consul, key, int(entry["ModifyIndex"]), str(exc))
    registered = registrations(instances or [])
    snap.passing = frozenset(alloc_id for alloc_id, found in registered.items() if found.passing)
    for node in nodes or []:
        try:
            state = SlotState.from_node(node)
        except MalformedRecord as exc:
            label, modify_index = f"catalog node {node.get('Node', '')}", int(node.get("ModifyIndex", 0))
            snap.unreadable[label] = modify_index
            await report_unreadable(consul, label, modify_index, str(exc))
            continue
        found = registered.get(state.alloc_id)
        if found is None:
            snap.unregistered.add(state.alloc_id)
        if found is None or not found.alive or found.index != state.index:
            continue  # not (or no longer) an allocation Nomad runs and checks at that index
        present = snap.slots.get(state.index)
        if present is None or _incumbent(state, present, snap.claims.get(state.index)):
            snap.slots[state.index] = state
    _reported.intersection_update(snap.unreadable.items())
    return snap


@dataclass(frozen=True)
class Registration:
    """Nomad's registration of one slot allocation in Consul: its index and how its checks stand."""

    index: int
    #: No check of the instance (nor of its node) is critical. "warning" is alive: a serving slot
    #: reports it while PostgreSQL or Redis is down (``bot_runtime.health``), and it still serves.
    alive: bool
    #: Every check passes.
    passing: bool


def registrations(instances: list[dict[str, Any]]) -> dict[str, Registration]:
    """Allocation id → its ``Registration``, for every ``bot-pool-slot`` instance Nomad registered.

    The index and allocation come from the registration's meta, written by the
    Nomad client from its own variables (``jobs/bot-pool.nomad.hcl``) with a
    token no slot holds: this is the one place a slot's index is taken from.
    """
    found: dict[str, Registration] = {}
    for instance in instances:
        meta = (instance.get("Service") or {}).get("Meta") or {}
        statuses = {check.get("Status") for check in instance.get("Checks") or []}
        alloc_id, index = meta.get("alloc_id"), str(meta.get("alloc_index", ""))
        if alloc_id and index.isdecimal():
            found[str(alloc_id)] = Registration(int(index), "critical" not in statuses, statuses <= {"passing"})
    return found


def _incumbent(state: SlotState, present: SlotState, claim: Claim | None) -> bool:
    """Whether ``state`` rather than ``present`` is the slot at an index two live allocations share.

    That happens only while Nomad replaces an allocation (an update, a
    reschedule): the one a claim names keeps the index, otherwise the one
    that started first, so a tenant never sees its slot swapped under it.
    """
    if claim is not None and claim.alloc_id in (state.alloc_id, present.alloc_id):
        return claim.alloc_id == state.alloc_id
    return state.started_at < present.started_at


async def _changed(consul: Consul, since: PoolIndex, wait: str) -> None:
    """Return once any of the pool's three sources moved past ``since``, or after ``wait``.

    Three blocking queries race; the first to return ends the wait and the
    others are cancelled (their connections closed), so a watcher holds at
    most three requests at a time.
    """
    queries = [
        asyncio.create_task(consul.kv.get(keys.POOL, recurse=True, index=since.kv or None, wait=wait)),
        asyncio.create_task(
            consul.catalog.nodes(node_meta=dict([keys.SLOT_NODE_META]), index=since.nodes or None, wait=wait)
        ),
        asyncio.create_task(consul.health.service(keys.SLOT_SERVICE, index=since.health or None, wait=wait)),
    ]
    try:
        done, _ = await asyncio.wait(queries, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()
    finally:
        for task in queries:
            task.cancel()
        await asyncio.gather(*queries, return_exceptions=True)


async def watch(consul: Consul, *, wait: str = "30s") -> AsyncIterator[PoolSnapshot]:
    """Yield pool snapshots as they change (blocking queries on all three sources, no sleep loop)."""
    snap = await snapshot(consul)
    yield snap
    while True:
        changed = await snapshot(consul, since=snap.index, wait=wait)
        if changed.index != snap.index:
            yield changed
        snap = changed


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
    is offered to the tenant (the scaler is adding some): tenants whose slot died are offered the free
    slots first (``PoolSnapshot.offered``). ``exclude`` skips slots that just failed
    this tenant, so a retry lands elsewhere. A tenant whose slot vanished or
    started afresh but whose claim remains is moved with its old claim deleted
    in the same transaction: a returning old process finds no claim to re-adopt,
    so one bot never runs in two slots; and until that transaction the tenant
    keeps its place ahead of buyers.

    ``reserved`` is a fence from ``reserve``: while it still stands, the claim
    replaces it on that slot (no one else could take the slot meanwhile);
    once it is gone, the claim takes the lowest free slot as usual.
    """
    validate_tenant_id(tenant_id)
    for _ in range(attempts):
        snap = await snapshot(consul)
        held = snap.tenants.get(tenant_id)
        if (home := snap.home(tenant_id)) is not None:
            return home
        slot, replaces = _reservation(snap, reserved)
        if slot is None:
            candidates = snap.offered(tenant_id, exclude)
            if not candidates:
                raise PoolExhausted(
                    f"no free slot for tenant {tenant_id} ({len(snap.slots)} slots, "
                    f"{len(snap.free())} free, {len(snap.homeless())} tenants to re-home first)"
                )
            slot = candidates[0]
        record = Claim(
            kind=ClaimKind.TENANT, attempt=uuid.uuid4().hex, slot_session=slot.session,
            alloc_id=slot.alloc_id, claimed_at=utcnow(), tenant_id=tenant_id,
        )
        ops = [kv_op("cas", keys.claim(slot.index), value=record.to_json(), index=replaces)]
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
            record.modify_index = int(results[0]["KV"]["ModifyIndex"])
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

    Checked like a claim (no claim on the slot, the leaving record unchanged),
    so a reservation never lands on a slot someone else got first.
    ``claim(..., reserved=fence)`` turns it into the tenant's claim;
    ``drop_claim`` gives it back.
    """
    fence = Claim(
        kind=ClaimKind.FENCE, attempt=uuid.uuid4().hex, slot_session=slot.session, alloc_id=slot.alloc_id,
        claimed_at=utcnow(), reason=reason,
    )
    ops = [
        kv_op("cas", keys.claim(slot.index), value=fence.to_json(), index=0),
        kv_op("check-index", keys.LEAVING, index=snap.leaving_index) if snap.leaving_index
        else kv_op("check-not-exists", keys.LEAVING),
    ]
    results = await transact(consul, ops)
    if results is None:
        return None
    fence.modify_index = int(results[0]["KV"]["ModifyIndex"])
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


async def remove_slot_record(consul: Consul, alloc_id: str) -> bool:
    """Remove the state node of an allocation Nomad no longer has (killed, so it could not remove it itself)."""
    return await deregister_node(consul, keys.slot_node(alloc_id))


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
