"""Which pool allocations sit on a Nomad node that is leaving: draining, ineligible or down.

A slot on such a node is going away: Nomad stops it when the drain reaches it
(or when the drain's deadline passes), and places nothing new on the node. So
it is not free capacity: a tenant put there would move twice, and the scaler
must add slots elsewhere before the drain takes these away.

Node state lives in Nomad, but only the reconciler and the scaler talk to
Nomad; the activators (the sales bot, the CLI) know only Consul. So the
reconciler's leader reads Nomad here (a blocking query on ``/v1/nodes``, then
the pool job's allocations) and publishes the answer as one ``Leaving`` record
at ``botpool/pool/leaving``, inside the pool prefix: every ``PoolSnapshot``
reads it in the same consistent read as the slots and claims, ``free()`` leaves
those slots out, and a claim's transaction checks the record is unchanged, so a
claim never lands on a slot that was just marked leaving. The scaler reads the
same snapshot. This module is the one place that decides what "leaving" means.

Needs Nomad's ``node:read`` (list nodes) and the namespace's ``read-job`` (list
the job's allocations).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import structlog
from pydantic import Field

from botpool.logs import redact
from botpool.pool import keys
from botpool.pool.model import KvRecord, MalformedRecord, UtcDatetime, utcnow

if TYPE_CHECKING:
    # Not imported at run time: a pool slot reads the record through ``protocol`` and must not load httpx.
    from consul.aio import Consul

    from botpool.clients.nomad import NomadClient

log = structlog.get_logger("botpool.nodes")

#: Allocation states in which an allocation still runs (or is about to) on its node.
_LIVE_CLIENT_STATUSES = frozenset({"pending", "running"})


class Leaving(KvRecord):
    """The pool allocations on leaving nodes, and why each such node is leaving (published by the reconciler)."""

    allocs: list[str] = Field(default_factory=list)
    #: Node id -> "draining", "ineligible" or "down".
    nodes: dict[str, str] = Field(default_factory=dict)
    updated_at: UtcDatetime = Field(default_factory=utcnow)

    def same_as(self, other: Leaving | None) -> bool:
        """Whether ``other`` says the same (ignoring when it was written), so an unchanged answer is not rewritten."""
        if other is None:
            return not self.allocs and not self.nodes
        return sorted(self.allocs) == sorted(other.allocs) and self.nodes == other.nodes


def leaving_nodes(nodes: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Nodes (from ``/v1/nodes``) that will run no pool slot for long: draining, ineligible or down, with why."""
    out: dict[str, str] = {}
    for node in nodes:
        node_id = str(node.get("ID", ""))
        if not node_id:
            continue
        if node.get("Drain"):
            out[node_id] = "draining"
        elif node.get("Status") not in (None, "ready", "initializing"):
            out[node_id] = str(node.get("Status"))
        elif node.get("SchedulingEligibility") == "ineligible":
            out[node_id] = "ineligible"
    return out


def leaving_allocs(allocs: Iterable[Mapping[str, Any]], nodes: Mapping[str, str]) -> list[str]:
    """Live allocations (from the job's allocation list) that sit on a leaving node or that Nomad will migrate."""
    out = []
    for alloc in allocs:
        if alloc.get("DesiredStatus") != "run" or alloc.get("ClientStatus") not in _LIVE_CLIENT_STATUSES:
            continue
        migrating = bool((alloc.get("DesiredTransition") or {}).get("Migrate"))
        if migrating or str(alloc.get("NodeID", "")) in nodes:
            out.append(str(alloc["ID"]))
    return sorted(out)


async def read(nomad: NomadClient, job: str, *, index: int = 0, wait: str = "20s") -> tuple[Leaving, int]:
    """What is leaving now, and the node list's index; with ``index`` it first blocks until the node list changes."""
    from botpool.clients.nomad import NomadError  # here: a slot imports this module and must not load httpx

    nodes, new_index = await nomad.nodes(index=index, wait=wait)
    leaving = leaving_nodes(nodes)
    if not leaving:
        return Leaving(), new_index
    try:
        allocs, _ = await nomad.allocations_blocking(job)  # without an index: read at once
    except NomadError as exc:
        if exc.status != 404:
            raise
        allocs = []  # no pool job: nothing of it is leaving
    return Leaving(allocs=leaving_allocs(allocs, leaving), nodes=leaving), new_index


async def current(consul: Consul) -> Leaving | None:
    """The published record, or None if none is published (or it cannot be read: then it is rewritten)."""
    _, entry = await consul.kv.get(keys.LEAVING)
    if entry is None or entry.get("Value") is None:
        return None
    try:
        return Leaving.from_kv(entry)
    except MalformedRecord:
        return None


async def publish(consul: Consul, leaving: Leaving) -> bool:
    """Write ``leaving`` if it differs from what is published (check-and-set); True if it was written."""
    _, entry = await consul.kv.get(keys.LEAVING)
    published: Leaving | None = None
    modify_index = 0
    if entry is not None:
        modify_index = int(entry["ModifyIndex"])
        try:
            published = Leaving.from_kv(entry)
        except MalformedRecord:
            published = None
    if published is not None and leaving.same_as(published):
        return False
    if published is None and entry is None and leaving.same_as(None):
        return False
    written = bool(await consul.kv.put(keys.LEAVING, leaving.to_json(), cas=modify_index))
    if written:
        log.info("leaving nodes published", nodes=leaving.nodes, allocs=len(leaving.allocs))
    return written


async def follow(
    consul: Consul, nomad: NomadClient, job: str, *, leading: Callable[[], bool], stop: asyncio.Event,
    wait: str = "20s",
) -> None:
    """Keep the published record in step with Nomad while ``leading()``, until ``stop``; survives any error.

    A blocking query on the node list wakes this within moments of a drain
    starting, an eligibility change or a node going down; the wait's timeout
    re-reads anyway (20 s: under the Nomad client's 30 s HTTP timeout, with
    Nomad's jitter of up to a sixteenth on top). A failure (Nomad or Consul away) is logged once per
    distinct cause and retried with a doubling, bounded pause.
    """
    index = 0
    pause = 1.0
    failing: str | None = None
    while not stop.is_set():
        if not leading():
            index = 0
            await _pause(stop, 2.0)
            continue
        try:
            leaving, new_index = await read(nomad, job, index=index, wait=wait)
            index = 0 if new_index < index else new_index
            if leading():
                await publish(consul, leaving)
        except Exception as exc:
            index = 0
            described = f"{type(exc).__name__}: {redact(str(exc))[:300]}"
            if described != failing:
                log.warning("cannot follow node state; retrying", error=described, retry_in_s=pause)
            failing = described
            await _pause(stop, pause)
            pause = min(pause * 2, 30.0)
            continue
        if failing is not None:
            log.info("following node state again", after=failing)
            failing, pause = None, 1.0


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds`` or until ``stop`` is set."""
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        pass
