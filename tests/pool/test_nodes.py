"""A slot on a Nomad node that is draining, ineligible or down is never handed to a tenant.

Real Consul and Nomad. The slots are written by the test (no pool job runs),
as a pool with slots 0-1 on a node being drained and slot 2 elsewhere would
show them; Nomad's own answer for a node an operator marked ineligible is read
through ``botpool.pool.nodes``, as the reconciler's leader reads it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from consul.aio import Consul

from botpool.clients.nomad import NomadClient
from botpool.errors import PoolExhausted
from botpool.pool import nodes, protocol
from devstack import acl
from devstack.stack import Stack
from tests.pool.fakes import fake_alloc, fake_slot, no_handoff


async def test_a_node_marked_ineligible_is_leaving_as_nomad_reports_it(stack: Stack) -> None:
    addr = stack.env()["NOMAD_ADDR"]
    nomad = NomadClient(addr, token=acl.nomad_token(stack.state, "reconciler"))  # as the reconciler reads it
    admin = {"X-Nomad-Token": acl.nomad_token(stack.state, "management")}  # the operator's drain, for the test
    try:
        listed, _ = await nomad.nodes()
        node_id = str(listed[0]["ID"])
        before, _ = await nodes.read(nomad, "no-such-job")
        assert before.nodes == {} and before.allocs == []
        async with httpx.AsyncClient(base_url=addr, headers=admin, timeout=30) as api:
            (await api.put(f"/v1/node/{node_id}/eligibility", json={"Eligibility": "ineligible"})).raise_for_status()
            try:
                during, _ = await nodes.read(nomad, "no-such-job")
            finally:
                (await api.put(f"/v1/node/{node_id}/eligibility", json={"Eligibility": "eligible"})).raise_for_status()
        assert during.nodes == {node_id: "ineligible"}
    finally:
        await nomad.aclose()


def test_allocations_on_a_draining_node_or_being_migrated_are_leaving() -> None:
    listed = [
        {"ID": "n1", "Status": "ready", "SchedulingEligibility": "eligible", "Drain": False},
        {"ID": "n2", "Status": "ready", "SchedulingEligibility": "ineligible", "Drain": True},
        {"ID": "n3", "Status": "down", "SchedulingEligibility": "eligible", "Drain": False},
    ]
    leaving = nodes.leaving_nodes(listed)
    assert leaving == {"n2": "draining", "n3": "down"}
    allocs: list[dict[str, Any]] = [
        {"ID": "a1", "NodeID": "n1", "DesiredStatus": "run", "ClientStatus": "running"},
        {"ID": "a2", "NodeID": "n2", "DesiredStatus": "run", "ClientStatus": "running"},
        {"ID": "a3", "NodeID": "n2", "DesiredStatus": "stop", "ClientStatus": "complete"},
        {"ID": "a4", "NodeID": "n1", "DesiredStatus": "run", "ClientStatus": "running",
         "DesiredTransition": {"Migrate": True}},
        {"ID": "a5", "NodeID": "n3", "DesiredStatus": "run", "ClientStatus": "pending"},
    ]
    assert nodes.leaving_allocs(allocs, leaving) == ["a2", "a4", "a5"]


async def test_slots_on_a_leaving_node_are_not_free_and_never_claimed(empty_pool: Consul) -> None:
    consul = empty_pool
    for index in range(3):
        await fake_slot(consul, index)
    assert [s.index for s in (await protocol.snapshot(consul)).free()] == [0, 1, 2]

    drain = nodes.Leaving(allocs=[fake_alloc(0), fake_alloc(1)], nodes={"node-2": "draining"})
    assert await nodes.publish(consul, drain)
    assert not await nodes.publish(consul, drain), "an unchanged answer is not written again"
    snap = await protocol.snapshot(consul)
    assert [s.index for s in snap.free()] == [2]
    assert [s.index for s in snap.on_leaving_node()] == [0, 1]

    slot, _ = await protocol.claim(consul, "t_buyer00001", no_handoff)
    assert slot.index == 2, "the lowest free slot is on the draining node: the buyer gets the next one"
    with pytest.raises(PoolExhausted):
        await protocol.claim(consul, "t_buyer00002", no_handoff)

    # The node is eligible again: its slots are free once more.
    assert await nodes.publish(consul, nodes.Leaving())
    slot, _ = await protocol.claim(consul, "t_buyer00002", no_handoff)
    assert slot.index == 0


async def test_a_slot_reserved_for_a_moving_tenant_goes_to_that_tenant_and_no_buyer(empty_pool: Consul) -> None:
    consul = empty_pool
    for index in range(2):
        await fake_slot(consul, index)
    await nodes.publish(consul, nodes.Leaving(allocs=[fake_alloc(0)], nodes={"node-2": "draining"}))
    snap = await protocol.snapshot(consul)
    fence = await protocol.reserve(consul, snap, snap.free()[0], "move t_moving00001")
    assert fence is not None
    assert await protocol.reserve(consul, snap, snap.free()[0], "move t_other000001") is None, "reserved once"

    with pytest.raises(PoolExhausted):  # a buyer activating meanwhile does not get the reserved slot
        await protocol.claim(consul, "t_buyer00003", no_handoff)
    slot, claim = await protocol.claim(consul, "t_moving00001", no_handoff, reserved=fence)
    assert (slot.index, claim.tenant_id) == (1, "t_moving00001")
    assert not await protocol.drop_claim(consul, 1, fence), "the reservation became the claim; nothing to give back"
