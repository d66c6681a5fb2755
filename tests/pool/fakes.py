"""Slots no process runs, for tests of the pool's bookkeeping on a real Consul without a Nomad job.

A slot counts in a pool snapshot only when two things agree: its own state
node (``slot-<alloc id>``, which a real slot writes with its node identity)
and Nomad's registration of its allocation at that index with passing checks
(which the Nomad client writes). A fake writes both with the test's
management token: the state node, and a ``bot-pool-slot`` instance with a
passing check on an agentless node standing in for the Nomad client.
"""

from __future__ import annotations

import json

from consul.aio import Consul
from consul.callback import CB

from botpool.clients.consul import deregister_node, register_node
from botpool.pool import keys
from botpool.pool.model import Claim, SlotMode, SlotState, utcnow

#: The agentless node holding the fakes' ``bot-pool-slot`` instances (as a Nomad client's node would).
FAKE_CLIENT = "fake-nomad-client"


async def no_handoff(slot: SlotState, claim: Claim) -> None:
    """The ``deliver`` of a claim on a fake slot: no process runs there, so nothing is handed over."""


def fake_alloc(index: int) -> str:
    """A made-up allocation id for the fake slot at ``index`` (UUID-shaped, as handoff paths require)."""
    return f"00000000-0000-4000-8000-{index:012d}"


async def fake_slot(consul: Consul, index: int, *, meta: dict[str, str] | None = None) -> SlotState:
    """Publish a WAITING slot at ``index`` as a running slot and its Nomad client would; ``meta`` overrides fields."""
    state = SlotState(index=index, alloc_id=fake_alloc(index), mode=SlotMode.WAITING, session=f"sess-{index}",
                      started_at=utcnow())
    await register_node(consul, keys.slot_node(state.alloc_id), "127.0.0.1", state.to_meta() | (meta or {}))
    service_id = f"_nomad-task-{state.alloc_id}-group-slots-{keys.SLOT_SERVICE}-http"
    registration = {
        "Node": FAKE_CLIENT, "Address": "127.0.0.1",
        "Service": {"ID": service_id, "Service": keys.SLOT_SERVICE, "Port": 1,
                    "Meta": {"alloc_index": str(index), "alloc_id": state.alloc_id}},
        "Check": {"CheckID": f"{service_id}-health", "Name": "slot-health", "Status": "passing",
                  "ServiceID": service_id},
    }
    registered = await consul.http.put(  # raises if Consul refuses: a fake that is not there tests nothing
        CB.boolean(), "/v1/catalog/register", data=json.dumps(registration), headers=consul.prepare_headers(None),
    )
    assert registered, f"Consul did not register the fake registration of slot {index}"
    return state


async def clear_slot_states(consul: Consul) -> None:
    """Remove every slot's state node: the fakes', and those slots killed before they could remove their own."""
    _, nodes = await consul.catalog.nodes(node_meta=dict([keys.SLOT_NODE_META]))
    for node in nodes or []:
        await deregister_node(consul, node["Node"])


async def clear_fake_slots(consul: Consul) -> None:
    """Remove every fake: the state nodes and the stand-in Nomad client's registrations."""
    await deregister_node(consul, FAKE_CLIENT)
    await clear_slot_states(consul)
