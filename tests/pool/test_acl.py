"""Least privilege, enforced: what a slot's own credentials, a scaler's, and no credentials may do in Consul and Nomad.

The stack runs Consul and Nomad with ACLs on and nothing allowed by default.
A slot's Consul token is the one Nomad gave it from its workload identity
(read here from the slot's own secrets directory); it holds no Nomad token at
all. The activator delivers a handoff only to the allocation Nomad registered
in Consul's catalog for the claimed index, so a slot record rewritten by
another slot draws nothing.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import structlog

from botpool import jobspec
from botpool.clients.vault import Wrapped
from botpool.errors import HandoffRefused
from botpool.pool import handoff, keys, protocol
from botpool.pool.model import Claim, ClaimKind, SlotState
from botpool.tenancy.activation import Activator
from devstack.stack import Stack
from tests.fixtures.stack import VaultHandle
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


def test_a_slots_consul_token_is_refused_outside_its_own_part_of_the_pool(
    pool: Pool, stack: Stack, two_slots: tuple[str, str, int, int]
) -> None:
    thief_alloc, _victim_alloc, _thief_index, victim_index = two_slots
    base = stack.env()["CONSUL_HTTP_ADDR"]
    token = consul_token_of(pool, thief_alloc)
    assert token not in stack.state.secrets.values(), "the slot's token is its own, from its workload identity"
    slot = httpx.Client(base_url=base, headers={"X-Consul-Token": token}, timeout=10)
    with slot:
        assert slot.get(f"/v1/kv/{keys.POOL}", params={"recurse": "true"}).status_code == 200, "it reads the pool"
        refused = {
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


def test_anonymous_requests_are_refused_by_consul_and_nomad(
    stack: Stack, two_slots: tuple[str, str, int, int]
) -> None:
    env = stack.env()
    slot_key = keys.slot(two_slots[2])  # a record that exists
    assert httpx.get(f"{env['CONSUL_HTTP_ADDR']}/v1/kv/{slot_key}", timeout=10).status_code == 403
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


async def test_the_activator_delivers_nothing_to_a_slot_record_nomad_did_not_register(
    pool: Pool, activator: Activator, vault: VaultHandle,
    two_slots: tuple[str, str, int, int],
) -> None:
    thief_alloc, victim_alloc, _thief_index, victim_index = two_slots
    wrapped = Wrapped(token=f"s.{uuid.uuid4().hex}", creation_path="secret/data/tenants/t_x", ttl_s=60)

    def claim_naming(alloc_id: str) -> Claim:
        return Claim(kind=ClaimKind.TENANT, attempt=uuid.uuid4().hex, slot_session="s", alloc_id=alloc_id,
                     claimed_at=datetime.now(UTC), tenant_id="t_forgery001")

    slot = await _snapshot_slot(pool, victim_index)
    forged = claim_naming(thief_alloc)  # the victim's record rewritten with the thief's allocation id
    excluded: set[int] = set()
    with structlog.testing.capture_logs() as logs, pytest.raises(HandoffRefused):
        await activator.deliverer(wrapped, excluded)(slot, forged)
    assert excluded == {victim_index}, "the slot is left out of this activation"
    assert any("disagrees with Nomad's registration" in e["event"] for e in logs)
    assert _handoff_exists(vault, thief_alloc, forged.attempt) is False, "nothing reached the thief's path"

    honest = claim_naming(victim_alloc)
    await activator.deliverer(wrapped, set())(slot, honest)
    assert _handoff_exists(vault, victim_alloc, honest.attempt) is True, "the registered allocation gets it"


async def _snapshot_slot(pool: Pool, index: int) -> SlotState:
    snap = await protocol.snapshot(pool.consul)
    return snap.slots[index]


def _handoff_exists(vault: VaultHandle, alloc_id: str, attempt: str) -> bool:
    path = handoff.secret_path(alloc_id, attempt)
    resp = httpx.get(f"{vault.addr}/v1/secret/data/{path}", headers={"X-Vault-Token": vault.token}, timeout=10)
    assert resp.status_code in (200, 404), resp.text
    return resp.status_code == 200
