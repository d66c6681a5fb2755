"""A tenant's handoff is usable only by the slot it was assigned to (issue 11, item 2), on the real pool.

Each slot's one credential is the Vault token Nomad derives from its
allocation's workload identity; these tests take that token from a real
slot's secrets directory, as a compromised slot would hold it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import hvac

from botpool import alerts
from botpool.pool import handoff, keys, protocol
from botpool.pool.model import Claim, SlotState
from botpool.tenancy.activation import Activator
from devstack.standins.telegram.client import BotInfo, TgUser
from tests.fixtures.greeting import greeted, spec_for
from tests.fixtures.stack import VaultHandle
from tests.fixtures.telegram import TelegramStandin
from tests.pool.conftest import Pool

CLIENT = TgUser(id=777002, first_name="Olga")


def new_tenant_id() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


async def new_bot(telegram: TelegramStandin, name: str) -> BotInfo:
    return await telegram.control.create_bot(f"{name}_{uuid.uuid4().hex[:6]}_bot")


def token_file(pool: Pool, alloc_id: str) -> Path:
    """Where Nomad keeps the Vault token of a slot's task (its secrets directory)."""
    return pool.root / "nomad" / "data" / "alloc" / alloc_id / "slot" / "secrets" / "vault_token"


def as_slot(vault: VaultHandle, pool: Pool, alloc_id: str) -> httpx.Client:
    """Vault's API with nothing but that slot's own token."""
    token = token_file(pool, alloc_id).read_text().strip()
    return httpx.Client(base_url=vault.addr, headers={"X-Vault-Token": token}, timeout=10)


async def test_a_slots_own_token_opens_its_handoffs_and_nothing_else(
    pool: Pool, activator: Activator, root_vault: hvac.Client, vault: VaultHandle,
    telegram_standin: TelegramStandin,
) -> None:
    snap = await pool.scale_to_free(2)
    mine = snap.free()[-1]  # claims pack at the lowest free index: never the highest of two or more free
    tenant = new_tenant_id()
    bot = await new_bot(telegram_standin, "own")
    result = await activator.activate(spec_for(tenant, bot, "Own Salon"))
    assert result.slot_index != mine.index
    other = (await protocol.snapshot(pool.consul)).slots[result.slot_index]
    await greeted(telegram_standin, bot, "Own Salon", client=CLIENT, timeout=15)

    # The claim in Consul names tenant, attempt and allocation, and holds no wrapping token.
    _, entry = await pool.consul.kv.get(keys.claim(other.index))
    stored = json.loads(entry["Value"])
    assert stored["tenant_id"] == tenant and stored["alloc_id"] == other.alloc_id
    assert "wrap_token" not in stored and "hvs." not in entry["Value"].decode()

    # A handoff waiting for the other slot (as the activator leaves one before that slot reads it).
    waiting = handoff.Handoff(tenant_id=tenant, attempt=uuid.uuid4().hex, alloc_id=other.alloc_id,
                              wrap_token="hvs.planted-for-the-test")
    handoff.deliver(root_vault, "secret", waiting)
    theirs = handoff.secret_path(other.alloc_id, waiting.attempt)
    with as_slot(vault, pool, mine.alloc_id) as vault_as_mine:
        # The token works for what it is for: this allocation's own handoffs (none waiting: 404, not 403).
        own = vault_as_mine.get(f"/v1/secret/data/{handoff.secret_path(mine.alloc_id, uuid.uuid4().hex)}")
        assert own.status_code == 404
        # And for nothing else.
        assert vault_as_mine.get(f"/v1/secret/data/{theirs}").status_code == 403
        assert vault_as_mine.delete(f"/v1/secret/metadata/{theirs}").status_code == 403
        assert vault_as_mine.request("LIST", "/v1/secret/metadata/handoff/").status_code == 403
        assert vault_as_mine.get(f"/v1/secret/data/tenants/{tenant}").status_code == 403
        assert vault_as_mine.request("LIST", "/v1/secret/metadata/tenants/").status_code == 403
        planted = vault_as_mine.post(f"/v1/secret/data/{handoff.secret_path(mine.alloc_id, uuid.uuid4().hex)}",
                                     json={"data": {"wrap_token": "x"}})
        assert planted.status_code == 403, "a slot cannot leave itself (or anyone) a handoff"
    # The other slot's handoff is still there for it: the attempt above changed nothing.
    assert root_vault.adapter.get(f"/v1/secret/data/{theirs}")["data"]["data"]["tenant_id"] == tenant
    await activator.release(tenant)


async def test_a_thief_with_another_slots_token_racing_for_a_fresh_handoff_gets_nothing(
    pool: Pool, activator: Activator, vault: VaultHandle, consul_addr: str, telegram_standin: TelegramStandin,
) -> None:
    snap = await pool.scale_to_free(2)
    thief = snap.free()[-1]  # claims pack at the lowest free index: never the highest of two or more free
    tenant = new_tenant_id()
    bot = await new_bot(telegram_standin, "raced")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.pool.handoff_thief", consul_addr, vault.addr,
         str(token_file(pool, thief.alloc_id)), thief.alloc_id, "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        assert (await asyncio.to_thread(proc.stdout.readline)).strip() == "ready"
        result = await activator.activate(spec_for(tenant, bot, "Raced Salon"))
        out, err = await asyncio.to_thread(proc.communicate, None, 90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The tenant is served normally, on the slot it was assigned.
    assert result.slot_index != thief.index
    target = (await protocol.snapshot(pool.consul)).slots[result.slot_index]
    await greeted(telegram_standin, bot, "Raced Salon", client=CLIENT, timeout=15)
    # The thief saw the claim and kept asking Vault for the handoff during the activation, and got nothing.
    race = json.loads(out.strip().splitlines()[-1])
    assert proc.returncode == 0, err[-1000:]
    assert race["targets"] and all(t.startswith(target.alloc_id) for t in race["targets"])
    assert race["stolen"] == []
    assert race["statuses"].get("read 403", 0) >= 1
    assert set(race["statuses"]) == {"read 403", "delete 403", "list 403"}, race["statuses"]
    # No alert is false: the slot took its handoff undisturbed.
    assert not [a for a in await alerts.list_alerts(pool.consul) if a.details.get("tenant_id") == tenant]
    await activator.release(tenant)


async def test_a_claim_whose_handoff_never_comes_fails_over_without_a_tampering_alert(
    pool: Pool, telegram_standin: TelegramStandin,
) -> None:
    await pool.scale_to_free(1)
    tenant = new_tenant_id()

    async def nothing(slot: SlotState, claim: Claim) -> None:
        """An activator that died between its claim and its handoff."""

    slot, claim = await protocol.claim(pool.consul, tenant, nothing)
    snap = await protocol.wait_until(
        pool.consul, lambda s: s.slots[slot.index].attempt == claim.attempt and bool(s.slots[slot.index].error),
        timeout_s=30,
    )
    state = snap.slots[slot.index]
    assert state.error is not None and state.error.startswith("handoff_missing"), state.error
    assert not [a for a in await alerts.list_alerts(pool.consul) if a.details.get("tenant_id") == tenant]
    await protocol.release(pool.consul, tenant)
