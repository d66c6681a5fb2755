"""An activation attempt on a slot that stays silent fails with the reason the pool shows, not a bare timeout.

Real Consul; the slots are faked (``tests.pool.fakes``), so the test decides
what the claimed slot reports. The operator reading "slot 3 did not
acknowledge" in a log or a tenant's last error learns where to look: the slot
never saw its claim (its Consul watch), it is stuck starting the bot (the
tenant's dependencies), or it left the pool (its process or node).
"""

from __future__ import annotations

from consul.aio import Consul

from botpool.clients.consul import deregister_node
from botpool.pool import keys, protocol
from botpool.tenancy.activation import Activator
from tests.pool.fakes import fake_slot, no_handoff


async def test_a_silent_slot_fails_the_attempt_with_what_the_pool_shows_of_it(
    empty_pool: Consul, activator: Activator
) -> None:
    consul = empty_pool
    activator.ack_timeout_s = 1.0
    await fake_slot(consul, 0)

    slot, claim = await protocol.claim(consul, "t_silent0001", no_handoff)
    ack = await activator.await_verdict(slot.index, claim)
    assert not ack.ok
    assert ack.text == "slot 0 did not acknowledge within 1 s (it never took the claim; it reports waiting)"

    # The slot took the claim and is still starting the tenant's bot.
    await fake_slot(consul, 0, meta={"mode": "activating", "tenant_id": "t_silent0001", "attempt": claim.attempt})
    ack = await activator.await_verdict(slot.index, claim)
    assert ack.text == "slot 0 did not acknowledge within 1 s (it took the claim and reports activating)"

    # The slot is gone from the pool (its state no longer counts).
    await deregister_node(consul, keys.slot_node(slot.alloc_id))
    ack = await activator.await_verdict(slot.index, claim)
    assert ack.text == (
        "slot 0 did not acknowledge within 1 s (it left the pool: its check is failing or Nomad no longer runs it)"
    )
