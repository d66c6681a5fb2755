"""A tenant whose slot died gets a free slot before any buyer does.

Real Consul; the slots are faked (``tests.pool.fakes``). When a node is lost,
its tenants' bots fall silent while buyers keep activating; if buyers took
the free slots first, the silent tenants would wait for the scaler's next
batch (15-25 s here) instead of the reconciler's re-home (about 2 s).
"""

from __future__ import annotations

import pytest
from consul.aio import Consul

from botpool.clients.consul import deregister_node
from botpool.errors import PoolExhausted
from botpool.pool import keys, protocol
from tests.pool.fakes import fake_slot, no_handoff


async def test_free_slots_go_to_tenants_whose_slot_died_before_buyers(empty_pool: Consul) -> None:
    consul = empty_pool
    for index in range(3):
        await fake_slot(consul, index)
    served, _ = await protocol.claim(consul, "t_served0001", no_handoff)
    assert served.index == 0

    await deregister_node(consul, keys.slot_node(served.alloc_id))  # slot 0 dies: its tenant falls silent
    snap = await protocol.snapshot(consul)
    assert snap.homeless() == {"t_served0001"}
    assert [s.index for s in snap.free()] == [1, 2]

    buyer, _ = await protocol.claim(consul, "t_buyer00001", no_handoff)
    assert buyer.index == 2, "the lowest free slot is kept for the silent tenant"
    with pytest.raises(PoolExhausted, match="1 tenants to re-home first"):
        await protocol.claim(consul, "t_buyer00002", no_handoff)

    rehomed, claim = await protocol.claim(consul, "t_served0001", no_handoff)  # the reconciler's re-home
    assert (rehomed.index, claim.tenant_id) == (1, "t_served0001")
    snap = await protocol.snapshot(consul)
    assert snap.homeless() == set()
    assert 0 not in snap.claims, "the claim on the dead slot went in the same transaction"
    with pytest.raises(PoolExhausted):  # the pool is full now: the buyer waits for the scaler
        await protocol.claim(consul, "t_buyer00002", no_handoff)
