"""Least privilege, enforced: what a slot's own credentials, a scaler's, and no credentials may do in Consul and Nomad.

The stack runs Consul and Nomad with ACLs on and nothing allowed by default.
A slot's Consul token is the one Nomad gave it from its workload identity
(read here from the slot's own secrets directory); it holds no Nomad token at
all. Its one write in the pool is its own state node, ``slot-<its allocation
id>``: another slot's state, any claim, any pool key are refused, and a slot
that lies about its index in its own state is not believed, since a slot's
index is taken from Nomad's registration of it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from botpool import jobspec
from botpool.pool import keys, protocol
from devstack.stack import Stack
from tests.pool.conftest import Pool


def consul_token_of(pool: Pool, alloc_id: str) -> str:
    """The Consul token Nomad gave a slot from its workload identity (its task's secrets directory)."""
    path: Path = pool.root / "nomad" / "data" / "alloc" / alloc_id / "slot" / "secrets" / "consul_token"
    return path.read_text().strip()


@pytest.fixture
async def two_slots(pool: Pool) -> tuple[str, str, int, int]:
    """Two free slots: (alloc id of the first, of the second, index of the first, of the second)."""
    snap = await pool.scale_to_free(2)
    first, second = snap.free()[:2]
    return first.alloc_id, second.alloc_id, first.index, second.index


def test_a_slots_consul_token_writes_its_own_state_and_nothing_else(
    pool: Pool, stack: Stack, two_slots: tuple[str, str, int, int]
) -> None:
    thief_alloc, victim_alloc, thief_index, victim_index = two_slots
    base = stack.env()["CONSUL_HTTP_ADDR"]
    token = consul_token_of(pool, thief_alloc)
    assert token not in stack.state.secrets.values(), "the slot's token is its own, from its workload identity"
    slot = httpx.Client(base_url=base, headers={"X-Consul-Token": token}, timeout=10)
    with slot:
        # It reads the pool: its own claim key answers "none" (404), where a refused read is a 403.
        assert slot.get(f"/v1/kv/{keys.claim(thief_index)}").status_code == 404
        own = slot.get(f"/v1/catalog/node/{keys.slot_node(thief_alloc)}").json()["Node"]
        victim = slot.get(f"/v1/catalog/node/{keys.slot_node(victim_alloc)}").json()["Node"]
        assert victim["Meta"]["index"] == str(victim_index), "it reads every slot's state"
        # Its own state, written back as it is: the one write it has.
        rewrite = {"Node": own["Node"], "Address": own["Address"], "NodeMeta": own["Meta"]}
        assert slot.put("/v1/catalog/register", json=rewrite).status_code == 200
        forged_state = {**victim["Meta"], "mode": "draining", "session": "forged"}
        refused = {
            "another slot's state": slot.put(
                "/v1/catalog/register",
                json={"Node": victim["Node"], "Address": victim["Address"], "NodeMeta": forged_state},
            ),
            "removing another slot's state": slot.put("/v1/catalog/deregister", json={"Node": victim["Node"]}),
            "a state node of a made-up allocation": slot.put(
                "/v1/catalog/register",
                json={"Node": keys.slot_node(str(uuid.uuid4())), "Address": "127.0.0.1", "NodeMeta": own["Meta"]},
            ),
            "a claim on another slot": slot.put(f"/v1/kv/{keys.claim(victim_index)}", content="{}"),
            "a claim on its own slot": slot.put(f"/v1/kv/{keys.claim(thief_index)}", content="{}"),
            "the leaving record": slot.put(f"/v1/kv/{keys.LEAVING}", content="{}"),
            "an alert": slot.put(f"/v1/kv/{keys.alert('forged')}", content="{}"),
            "a tenant record": slot.put(f"/v1/kv/{keys.tenant('t_stolen0001')}", content=str(victim_index)),
            "the scaler's leader lock": slot.put(f"/v1/kv/{keys.leader('scaler')}", content="me"),
            "the reconciler's leader lock": slot.put(f"/v1/kv/{keys.leader('reconciler')}", content="me"),
            "a key outside botpool/": slot.put("/v1/kv/elsewhere/x", content="x"),
            "a catalog registration of the slot service": slot.put(
                "/v1/agent/service/register",
                json={"Name": keys.SLOT_SERVICE, "ID": "forged", "Meta": {"alloc_index": str(victim_index),
                                                                           "alloc_id": thief_alloc}},
            ),
            "the ACL system": slot.get("/v1/acl/tokens"),
        }
        assert {what: resp.status_code for what, resp in refused.items()} == dict.fromkeys(refused, 403)
        # A transaction reports a refused operation as a failed one (409), with Consul's reason.
        txn = slot.put("/v1/txn", json=[{"KV": {"Verb": "delete", "Key": keys.claim(victim_index)}}])
        assert txn.status_code == 409 and "Permission denied" in txn.text, txn.text
        after = slot.get(f"/v1/catalog/node/{keys.slot_node(victim_alloc)}").json()["Node"]
        assert after["Meta"] == victim["Meta"], "the other slot's state is unchanged"


def test_anonymous_requests_are_refused_by_consul_and_nomad(
    stack: Stack, two_slots: tuple[str, str, int, int]
) -> None:
    env = stack.env()
    states = httpx.get(f"{env['CONSUL_HTTP_ADDR']}/v1/catalog/nodes",
                       params={"node-meta": ":".join(keys.SLOT_NODE_META)}, timeout=10)
    assert states.status_code == 200 and states.json() == [], "slots' states are filtered out of an anonymous read"
    node = httpx.get(f"{env['CONSUL_HTTP_ADDR']}/v1/catalog/node/{keys.slot_node(two_slots[0])}", timeout=10)
    assert node.json() is None, "nor can one be read by name"
    listing = httpx.get(f"{env['CONSUL_HTTP_ADDR']}/v1/kv/{keys.POOL}?recurse", timeout=10)
    assert listing.status_code == 404, "Consul filters a listing down to nothing rather than refusing it"
    assert httpx.put(f"{env['CONSUL_HTTP_ADDR']}/v1/kv/{keys.claim(0)}", content="x", timeout=10).status_code == 403
    assert httpx.get(f"{env['NOMAD_ADDR']}/v1/jobs", timeout=10).status_code == 403
    scale = {"Count": 1, "Target": {"Group": jobspec.POOL.group}, "Message": "anonymous"}
    assert httpx.post(f"{env['NOMAD_ADDR']}/v1/job/{jobspec.POOL.id}/scale", json=scale, timeout=10).status_code == 403


def test_a_slot_cannot_scale_the_pool_and_the_scaler_can_but_cannot_submit_a_job(
    pool: Pool, stack: Stack, two_slots: tuple[str, str, int, int]
) -> None:
    env = stack.env()
    nomad = env["NOMAD_ADDR"]
    status = httpx.get(f"{nomad}/v1/job/{jobspec.POOL.id}/scale",
                       headers={"X-Nomad-Token": env["NOMAD_TOKEN"]}, timeout=10).json()
    count = int(status["TaskGroups"][jobspec.POOL.group]["Desired"])
    scale = {"Count": count, "Target": {"Group": jobspec.POOL.group}, "Message": "test: acl"}
    # A slot has no Nomad token (none in its environment or secrets); the best it has is its Consul token.
    as_slot = {"X-Nomad-Token": consul_token_of(pool, two_slots[0])}
    assert httpx.post(f"{nomad}/v1/job/{jobspec.POOL.id}/scale", json=scale, headers=as_slot,
                      timeout=10).status_code == 403
    as_scaler = {"X-Nomad-Token": stack.role_env("scaler")["NOMAD_TOKEN"]}
    assert httpx.post(f"{nomad}/v1/job/{jobspec.POOL.id}/scale", json=scale, headers=as_scaler,
                      timeout=10).status_code == 200
    job = httpx.get(f"{nomad}/v1/job/{jobspec.POOL.id}", headers=as_scaler, timeout=10).json()
    submitted = httpx.post(f"{nomad}/v1/jobs", json={"Job": job}, headers=as_scaler, timeout=10)
    assert submitted.status_code == 403, submitted.text


async def test_a_slot_that_claims_another_index_in_its_own_state_is_not_believed(
    pool: Pool, stack: Stack, two_slots: tuple[str, str, int, int]
) -> None:
    thief_alloc, victim_alloc, thief_index, victim_index = two_slots
    headers = {"X-Consul-Token": consul_token_of(pool, thief_alloc)}
    async with httpx.AsyncClient(base_url=stack.env()["CONSUL_HTTP_ADDR"], headers=headers, timeout=10) as slot:
        own = (await slot.get(f"/v1/catalog/node/{keys.slot_node(thief_alloc)}")).json()["Node"]
        register = {"Node": own["Node"], "Address": own["Address"]}
        lie = {**own["Meta"], "index": str(victim_index)}
        assert (await slot.put("/v1/catalog/register", json={**register, "NodeMeta": lie})).status_code == 200
        try:
            snap = await protocol.wait_until(pool.consul, lambda s: thief_index not in s.slots, timeout_s=10)
            assert snap.slots[victim_index].alloc_id == victim_alloc, "the index is still the slot Nomad put there"
            assert thief_alloc not in {s.alloc_id for s in snap.slots.values()}, "the liar is counted nowhere"
        finally:
            (await slot.put("/v1/catalog/register", json={**register, "NodeMeta": own["Meta"]})).raise_for_status()
    snap = await protocol.wait_until(pool.consul, lambda s: thief_index in s.slots, timeout_s=10)
    assert snap.slots[thief_index].alloc_id == thief_alloc
