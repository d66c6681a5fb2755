"""Consul records: today's values still decode, secrets stay hidden, and a bad value never stops the pool."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest
import structlog
from consul.aio import Consul

from botpool import alerts
from botpool.leader import LeaderRecord
from botpool.pool import keys, protocol
from botpool.pool.model import Claim, ClaimKind, MalformedRecord, SlotMode, SlotState
from tests.pool.fakes import fake_alloc, fake_slot, no_handoff

WRAP_TOKEN = "hvs.CAESIAwrappingTOKENthatMustNeverLeak0123456789"

#: Values exactly as the dataclass version wrote them (``json.dumps(asdict(record))`` with isoformat times).
OLD_SLOT = (
    '{"index": 3, "alloc_id": "5f1c2d3e-0000-4000-8000-00000000abcd", "mode": "active", "session": "sess-3", '
    '"started_at": "2026-03-01T10:00:00.123456+00:00", "tenant_id": "t_salon001", "bot_username": "salon_bot", '
    '"activated_at": "2026-03-01T10:05:30.000001+00:00", "attempt": "9f8e7d", "error": null}'
)
OLD_CLAIM = (
    '{"kind": "tenant", "attempt": "9f8e7d", "slot_session": "sess-3", '
    '"alloc_id": "5f1c2d3e-0000-4000-8000-00000000abcd", "claimed_at": "2026-03-01T10:05:29.500000+00:00", '
    f'"tenant_id": "t_salon001", "wrap_token": "{WRAP_TOKEN}", "reason": null}}'
)
OLD_FENCE = (
    '{"kind": "fence", "attempt": "scale-1", "slot_session": "sess-9", "alloc_id": "a9", '
    '"claimed_at": "2026-03-01T11:00:00+00:00", "tenant_id": null, "wrap_token": null, "reason": "scale-in"}'
)
OLD_ALERT = (
    '{"alert_id": "20260301T100000-1a2b3c4d", "kind": "handoff_refused", "message": "slot 3 refused", '
    '"at": "2026-03-01T10:00:00.500000+00:00", "details": {"slot": 3, "tenant_id": "t_salon001"}}'
)
OLD_LEADER = '{"instance": "reconciler-1", "since": "2026-03-01T09:00:00.000001+00:00"}'



def kv(key: str, value: str, modify_index: int = 17) -> dict[str, object]:
    """A KV entry as py-consul returns it (the value as bytes)."""
    return {"Key": key, "Value": value.encode(), "ModifyIndex": modify_index}


# ----------------------------------------------------------------- wire format


def test_todays_values_decode_with_aware_utc_times() -> None:
    slot = SlotState.decode(OLD_SLOT)
    assert slot.mode is SlotMode.ACTIVE and slot.tenant_id == "t_salon001"
    assert slot.started_at == datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert slot.activated_at == datetime(2026, 3, 1, 10, 5, 30, 1, tzinfo=UTC)
    claim = Claim.from_kv(kv(keys.claim(3), OLD_CLAIM, 42))
    assert claim.kind is ClaimKind.TENANT and claim.modify_index == 42
    assert claim.claimed_at == datetime(2026, 3, 1, 10, 5, 29, 500000, tzinfo=UTC)
    assert claim.tenant_id == "t_salon001" and claim.attempt == "9f8e7d" and claim.alloc_id.startswith("5f1c2d3e")
    fence = Claim.from_kv(kv(keys.claim(9), OLD_FENCE))
    assert fence.kind is ClaimKind.FENCE and fence.reason == "scale-in"
    alert = alerts.Alert.decode(OLD_ALERT)
    assert alert.at == datetime(2026, 3, 1, 10, 0, 0, 500000, tzinfo=UTC) and alert.details["slot"] == 3
    assert LeaderRecord.decode(OLD_LEADER).instance == "reconciler-1"


@pytest.mark.parametrize("old", [OLD_CLAIM, OLD_FENCE])
def test_claims_written_now_are_what_the_previous_version_reads(old: str) -> None:
    # The previous version did ``cls(**json.loads(value))`` and ``datetime.fromisoformat`` on the times:
    # the same keys, the same strings, so it reads a record written now exactly as one it wrote itself.
    # Only a claim's wrap_token is gone (it travels through Vault now); the old dataclass defaulted it to None.
    written = Claim.from_kv(kv("any/0001", old)).to_json()
    assert json.loads(written) == {k: v for k, v in json.loads(old).items() if k != "wrap_token"}
    assert "modify_index" not in json.loads(written)


def test_a_slots_state_goes_through_its_node_meta_unchanged_and_must_name_that_node() -> None:
    state = SlotState.decode(OLD_SLOT)
    meta = state.to_meta()
    assert all(isinstance(v, str) and len(v) <= 512 for v in meta.values()), "node meta holds short strings"
    assert "error" not in meta, "an unset field is left out, not written as 'None'"
    node = {"Node": keys.slot_node(state.alloc_id), "Meta": meta, "ModifyIndex": 41}
    read = SlotState.from_node(node)
    assert read.model_dump() == state.model_dump() and read.modify_index == 41
    assert read.started_at == datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    # A state whose node is another allocation's is not believed (only the node's name is authenticated).
    with pytest.raises(MalformedRecord, match="another allocation"):
        SlotState.from_node(node | {"Node": keys.slot_node("5f1c2d3e-0000-4000-8000-00000000ffff")})
    with pytest.raises(MalformedRecord, match="mode"):
        SlotState.from_node(node | {"Meta": meta | {"mode": "dancing"}})


def test_a_newer_version_with_extra_fields_or_fewer_optional_ones_still_decodes() -> None:
    newer = json.loads(OLD_SLOT) | {"cpu_seconds": 12.5, "labels": {"zone": "b"}}
    assert SlotState.decode(json.dumps(newer)).bot_username == "salon_bot"
    minimal = {k: v for k, v in json.loads(OLD_SLOT).items() if k in ("index", "alloc_id", "mode", "session",
                                                                       "started_at")}
    slot = SlotState.decode(json.dumps(minimal))
    assert slot.tenant_id is None and slot.activated_at is None and slot.error is None
    leader = LeaderRecord.decode('{"instance": "scaler-2"}')
    assert leader.since is None


def test_times_from_another_offset_are_stored_as_utc() -> None:
    moscow = timezone(timedelta(hours=3))
    claim = Claim(kind=ClaimKind.FENCE, attempt="a", slot_session="s", alloc_id="x",
                  claimed_at=datetime(2026, 3, 1, 13, 0, tzinfo=moscow))
    assert claim.claimed_at.utcoffset() == timedelta(0) and claim.claimed_at.hour == 10
    assert json.loads(claim.to_json())["claimed_at"] == "2026-03-01T10:00:00+00:00"


def test_a_time_without_a_zone_is_unreadable() -> None:
    naive = json.loads(OLD_SLOT) | {"started_at": "2026-03-01T10:00:00"}
    with pytest.raises(MalformedRecord, match="started_at"):
        SlotState.decode(json.dumps(naive))


# --------------------------------------------------------------------- secrets


def test_a_claim_of_an_earlier_version_loses_its_wrapping_token_and_never_writes_it_back() -> None:
    claim = Claim.from_kv(kv(keys.claim(3), OLD_CLAIM))
    for shown in (repr(claim), str(claim), f"{claim}", str(claim.model_dump()), claim.model_dump_json(),
                  json.dumps(claim.model_dump(mode="json")), claim.to_json()):
        assert WRAP_TOKEN not in shown
    with structlog.testing.capture_logs() as logs:
        structlog.get_logger("test").warning("claim seen", claim=claim)
    assert WRAP_TOKEN not in repr(logs)
    # The wrapping token now travels through Vault to the claimed allocation alone (botpool.pool.handoff).
    assert "wrap_token" not in json.loads(claim.to_json())


def test_an_unreadable_claim_never_echoes_its_token() -> None:
    broken = json.loads(OLD_CLAIM) | {"kind": "borrow", "claimed_at": "yesterday"}
    with pytest.raises(MalformedRecord) as caught:
        Claim.decode(json.dumps(broken))
    assert "kind" in str(caught.value) and "claimed_at" in str(caught.value)
    assert WRAP_TOKEN not in str(caught.value) and caught.value.__cause__ is None
    with pytest.raises(MalformedRecord, match="Invalid JSON") as garbage:
        Claim.decode(f"not json {WRAP_TOKEN}")
    assert WRAP_TOKEN not in str(garbage.value)


# ------------------------------------------------ unreadable values on real Consul



async def unreadable_alerts(consul: Consul) -> dict[str, int]:
    """Alerts about unreadable values, counted per key."""
    found: dict[str, int] = {}
    for alert in await alerts.list_alerts(consul):
        if alert.kind == "unreadable_record":
            found[alert.details["key"]] = found.get(alert.details["key"], 0) + 1
    return found


async def test_garbage_under_a_slot_and_a_claim_key_is_skipped_reported_once_and_claims_go_on(
    empty_pool: Consul, consul_addr: str, consul_management_token: str
) -> None:
    consul = empty_pool
    for index in (0, 2, 3):
        await fake_slot(consul, index)
    await fake_slot(consul, 1, meta={"started_at": "{truncated"})
    bad_slot = f"catalog node {keys.slot_node(fake_alloc(1))}"
    await consul.kv.put(keys.claim(0), f'{{"kind": "tenant", "wrap_token": "{WRAP_TOKEN}"}}')  # slot 0 is taken
    await consul.kv.put(keys.tenant("t_garbled01"), "slot three")

    with structlog.testing.capture_logs() as logs:
        for _ in range(3):  # every poll meets the same values
            snap = await protocol.snapshot(consul)
    assert sorted(snap.slots) == [0, 2, 3]
    assert set(snap.unreadable) == {bad_slot, keys.claim(0), keys.tenant("t_garbled01")}
    assert [s.index for s in snap.free()] == [2, 3]
    warned = [e["key"] for e in logs if e["event"] == "unreadable value skipped"]
    assert sorted(warned) == sorted(snap.unreadable), "one log line per bad key, not one per poll"
    assert WRAP_TOKEN not in repr(logs)

    # A second process meets the same values: still one alert per key, none of them showing the token.
    code = (
        "import asyncio; from botpool.clients import consul as c; from botpool.settings import ConsulSettings\n"
        "from botpool.pool import protocol\n"
        "async def main():\n"
        f"    client = c.connect(ConsulSettings(CONSUL_HTTP_ADDR={consul_addr!r}, "
        f"CONSUL_HTTP_TOKEN={consul_management_token!r}))\n"
        "    print(sorted((await protocol.snapshot(client)).slots))\n"
        "    await client.close()\n"
        "asyncio.run(main())\n"
    )
    other = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert other.stdout.strip().splitlines()[-1] == "[0, 2, 3]"
    assert other.stdout.count("unreadable value skipped") == 3 and WRAP_TOKEN not in other.stdout
    assert await unreadable_alerts(consul) == dict.fromkeys(snap.unreadable, 1)
    assert not [a for a in await alerts.list_alerts(consul) if WRAP_TOKEN in a.model_dump_json()]

    # Claims go on: the lowest slot whose claim key is free, and the garbled tenant record is replaced.
    slot, claim = await protocol.claim(consul, "t_garbled01", no_handoff)
    assert slot.index == 2 and claim.tenant_id == "t_garbled01"
    slot, _ = await protocol.claim(consul, "t_another01", no_handoff)
    assert slot.index == 3
    after = await protocol.snapshot(consul)
    assert after.tenants["t_garbled01"][0] == 2 and after.tenants["t_another01"][0] == 3
    assert set(after.unreadable) == {bad_slot, keys.claim(0)}

    # A new bad value at the same key (a new ModifyIndex) is reported again, once.
    await fake_slot(consul, 1, meta={"mode": "still not a mode"})
    await protocol.snapshot(consul)
    await protocol.snapshot(consul)
    assert (await unreadable_alerts(consul))[bad_slot] == 2
