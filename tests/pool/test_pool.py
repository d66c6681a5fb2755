"""The warm pool on real Nomad, Consul, Vault, PostgreSQL and Redis: what a paying tenant and an operator notice.

Tests run in file order and share one pool; the last one scans everything the
run produced for leaked bot tokens, which is why they stay in one file (a little
over 400 lines) rather than being split by topic.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import hvac
import pytest
import redis.asyncio as aioredis
import redis.exceptions

from botpool import alerts
from botpool.clients import vault as vault_client
from botpool.pool import handoff, keys, protocol
from botpool.pool.model import Claim, SlotMode, SlotState
from botpool.tenancy.activation import Activator
from botpool.tenancy.package import secret_path
from devstack import process
from devstack.standins.telegram.client import BotInfo, TgUser
from tests.fixtures.greeting import greeted, spec_for
from tests.fixtures.stack import PostgresHandle, RedisHandle
from tests.fixtures.telegram import TelegramStandin
from tests.pool.conftest import Pool

CLIENT = TgUser(id=777001, first_name="Ivan")
#: Every bot token this module creates, for the leak scan at the end.
TOKENS: set[str] = set()


def new_tenant_id() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


async def new_bot(telegram: TelegramStandin, name: str) -> BotInfo:
    bot = await telegram.control.create_bot(f"{name}_{uuid.uuid4().hex[:6]}_bot")
    TOKENS.add(bot.token)
    return bot


answers_start = functools.partial(greeted, client=CLIENT, timeout=15)


async def check_output_shows(pool: Pool, text: str) -> None:
    """Wait (blocking queries) until some slot's Consul check output contains ``text``: what the UI shows."""
    index = None
    async with asyncio.timeout(10):
        while True:
            index, checks = await pool.consul.health.checks(keys.SLOT_SERVICE, index=index, wait="5s")
            if any(text in c["Output"] for c in checks):
                return


def healthy(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries whose checks all pass (a killed slot's entry lingers, critical, for a minute)."""
    return [e for e in entries if all(c["Status"] == "passing" for c in e["Checks"])]


async def view_of(pool: Pool, service: str, until: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
    """Wait (blocking queries) until the per-state service ``service`` shows what ``until`` expects."""
    index = None
    async with asyncio.timeout(15):
        while True:
            index, entries = await pool.consul.health.service(service, index=index, wait="5s")
            if until(entries):
                return list(entries)


async def test_job_starts_ten_slots_all_passing(pool: Pool) -> None:
    snap = await protocol.snapshot(pool.consul)
    assert len(snap.free()) == 10
    assert sorted(snap.slots) == list(range(10))
    _, checks = await pool.consul.health.checks(keys.SLOT_SERVICE)
    passing = [c for c in checks if c["Status"] == "passing"]
    assert len(passing) == 10
    # The Consul UI shows each slot's mode in its check output, and the split as services: slots-waiting.
    assert all("WAITING" in c["Output"] for c in passing)
    waiting = await view_of(pool, "slots-waiting", lambda entries: len(healthy(entries)) == 10)
    assert sorted(int(e["Service"]["Meta"]["slot"]) for e in healthy(waiting)) == list(range(10))


async def test_activation_answers_and_release_returns_slot(
    pool: Pool, activator: Activator, telegram_standin: TelegramStandin
) -> None:
    bot = await new_bot(telegram_standin, "single")
    tenant_id = new_tenant_id()
    result = await activator.activate(spec_for(tenant_id, bot, "Barber One"))
    assert result.slot_index == 0, "claims pack at the lowest free index"
    assert result.bot_username == bot.username
    await answers_start(telegram_standin, bot, "Barber One")
    snap = await protocol.snapshot(pool.consul)
    assert snap.slots[0].mode is SlotMode.ACTIVE and snap.slots[0].tenant_id == tenant_id
    await check_output_shows(pool, f"ACTIVE tenant={tenant_id}")
    # The Services page reads the split at a glance: the slot is listed under slots-active, for whom.
    active = await view_of(pool, "slots-active", lambda entries: any(
        e["Service"]["Meta"].get("tenant") == tenant_id for e in entries))
    entry = next(e["Service"] for e in active if e["Service"]["Meta"].get("tenant") == tenant_id)
    assert entry["Meta"]["slot"] == "0" and entry["Meta"]["bot"] == bot.username
    assert {"active", "slot-0", f"@{bot.username}"} <= set(entry["Tags"])

    # Activating again is idempotent: same slot, nothing new.
    again = await activator.activate(spec_for(tenant_id, bot, "Barber One"))
    assert again.slot_index == result.slot_index

    served = (await protocol.snapshot(pool.consul)).slots[0]
    assert await activator.release(tenant_id) == 0
    # The slot comes back free as a fresh process of the same allocation (recycled: nothing the tenant
    # left stays in its memory).
    snap = await protocol.wait_until(
        pool.consul,
        lambda s: 0 in s.slots and s.slots[0].mode is SlotMode.WAITING and 0 not in s.claims,
        timeout_s=15,
    )
    assert snap.slots[0].tenant_id is None
    assert snap.slots[0].alloc_id == served.alloc_id and snap.slots[0].started_at > served.started_at
    await view_of(pool, "slots-active", lambda entries: not any(
        e["Service"]["Meta"].get("tenant") == tenant_id for e in entries))
    # The released tenant's bot no longer answers from the slot.
    before = await telegram_standin.control.messages(bot, CLIENT.id)
    await telegram_standin.control.send_message(bot, CLIENT, "/start")
    with pytest.raises(TimeoutError):
        await telegram_standin.control.wait_for_message(
            bot, CLIENT.id, after_message_id=max(m["message_id"] for m in before), timeout=2
        )
    # The recycled slot serves its next buyer.
    nxt = await new_bot(telegram_standin, "recycled")
    nxt_tenant = new_tenant_id()
    assert (await activator.activate(spec_for(nxt_tenant, nxt, "Barber Two"))).slot_index == 0
    await answers_start(telegram_standin, nxt, "Barber Two")
    assert await activator.release(nxt_tenant) == 0


async def test_twenty_concurrent_activations_from_four_processes(
    pool: Pool, telegram_standin: TelegramStandin, control_env: dict[str, str]
) -> None:
    await pool.scale_to_free(25)
    specs = []
    for n in range(20):
        bot = await new_bot(telegram_standin, f"race{n}")
        specs.append({"tenant_id": new_tenant_id(), "token": bot.token, "admin": "42", "company": f"Salon {n}",
                      "username": bot.username})
    chunks = [specs[i::4] for i in range(4)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.pool.activate_worker"], env=control_env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in chunks
    ]
    outputs = await asyncio.gather(*(
        asyncio.to_thread(p.communicate, json.dumps([{k: v for k, v in s.items() if k != "username"} for s in c]), 120)
        for p, c in zip(procs, chunks, strict=True)
    ))
    results = [r for out, err in outputs for r in json.loads(out.strip().splitlines()[-1] if out.strip() else "[]")]
    assert all(p.returncode == 0 for p in procs), [err[-500:] for _, err in outputs]
    assert len(results) == 20 and not [r for r in results if "error" in r], results
    slots = [r["slot"] for r in results]
    assert len(set(slots)) == 20, "one slot never serves two tenants"

    snap = await protocol.snapshot(pool.consul)
    by_tenant = {s.tenant_id: s.index for s in snap.active()}
    assert {r["tenant_id"] for r in results} <= set(by_tenant), "every tenant is ACTIVE in Consul"
    assert len(snap.tenants) == len(set(snap.tenants.values())), "one tenant never holds two slots"

    # Each tenant's own bot answers /start through Telegram.
    for spec in specs:
        bot = BotInfo(id=int(spec["token"].split(":")[0]), token=spec["token"], username=spec["username"])
        await answers_start(telegram_standin, bot, spec["company"])
    for spec in specs:
        await protocol.release(pool.consul, spec["tenant_id"])


async def test_kill9_moves_tenant_to_another_slot_with_data_intact(
    pool: Pool, activator: Activator, telegram_standin: TelegramStandin, postgres: PostgresHandle,
    reconciler: object,
) -> None:
    await pool.scale_to_free(3)
    bot = await new_bot(telegram_standin, "phoenix")
    tenant_id = new_tenant_id()
    first = await activator.activate(spec_for(tenant_id, bot, "Phoenix Salon"))
    await answers_start(telegram_standin, bot, "Phoenix Salon")
    admin = await asyncpg.connect(postgres.dsn)
    try:
        await admin.execute(f'CREATE TABLE "{tenant_id}".visits (client text)')
        await admin.execute(f"INSERT INTO \"{tenant_id}\".visits VALUES ('Ivan')")
    finally:
        await admin.close()

    snap = await protocol.snapshot(pool.consul)
    alloc_id = snap.slots[first.slot_index].alloc_id
    victims = process.slot_pids(alloc_id)
    assert victims, "the slot's process was found"
    started = time.monotonic()
    for pid in victims:
        os.kill(pid, signal.SIGKILL)

    def moved(s: protocol.PoolSnapshot) -> bool:
        return any(
            (slot.tenant_id == tenant_id and slot.mode is SlotMode.ACTIVE and slot.alloc_id != alloc_id)
            or (slot.tenant_id == tenant_id and slot.mode is SlotMode.ACTIVE and slot.started_at
                != snap.slots[first.slot_index].started_at)
            for slot in s.slots.values()
        )

    await protocol.wait_until(pool.consul, moved, timeout_s=60)
    await answers_start(telegram_standin, bot, "Phoenix Salon")
    recovery = time.monotonic() - started
    print(f"tenant answered again {recovery:.1f} s after kill -9")
    tenant_conn = await asyncpg.connect(postgres.dsn)
    try:
        assert await tenant_conn.fetchval(f'SELECT client FROM "{tenant_id}".visits') == "Ivan"
    finally:
        await tenant_conn.close()
    await activator.release(tenant_id)


@pytest.mark.parametrize("tamper", ["other-tenant-path", "rewrapped", "already-unwrapped", "expired"])
async def test_tampered_handoff_is_refused_and_alerted(
    pool: Pool, activator: Activator, root_vault: hvac.Client, telegram_standin: TelegramStandin, tamper: str,
    vault: object,
) -> None:
    await pool.scale_to_free(2)
    victim, other = new_tenant_id(), new_tenant_id()
    victim_bot = await new_bot(telegram_standin, "victim")
    await activator.provision(spec_for(victim, victim_bot, "Victim"))
    await activator.provision(spec_for(other, await new_bot(telegram_standin, "other"), "Other"))
    addr = root_vault.url

    if tamper == "other-tenant-path":
        token = vault_client.read_wrapped(activator.vault, "secret", secret_path(other)).token
    elif tamper == "rewrapped":
        token = root_vault.adapter.post(
            "/v1/sys/wrapping/wrap", json={"bot_token": "123:forged"}, wrap_ttl="300s"
        )["wrap_info"]["token"]
    elif tamper == "already-unwrapped":
        token = vault_client.read_wrapped(activator.vault, "secret", secret_path(victim)).token
        vault_client.connect_url(addr, token).sys.unwrap()  # an attacker read it first
    else:
        token = vault_client.read_wrapped(activator.vault, "secret", secret_path(victim), ttl_s=1).token
        await asyncio.sleep(2.5)

    async def plant(slot: SlotState, claim: Claim) -> None:
        # What a compromised activator token could do: leave a bad token as the claimed allocation's handoff.
        entry = handoff.Handoff(tenant_id=victim, attempt=claim.attempt, alloc_id=claim.alloc_id, wrap_token=token)
        await asyncio.to_thread(handoff.deliver, root_vault, "secret", entry)

    slot, claim = await protocol.claim(pool.consul, victim, plant)
    verdict = await activator.await_verdict(slot.index, claim)  # what the activator that claimed it waits for
    assert not verdict.ok and verdict.text.startswith("handoff_refused"), verdict
    state = (await protocol.snapshot(pool.consul)).slots[slot.index]
    assert state.attempt == claim.attempt and state.error is not None and state.error.startswith("handoff_refused")
    assert state.mode is SlotMode.WAITING and state.tenant_id is None
    recorded = [a for a in await alerts.list_alerts(pool.consul) if a.details.get("attempt") == claim.attempt]
    assert len(recorded) == 1 and recorded[0].kind == "handoff_refused"
    assert recorded[0].details["tenant_id"] == victim
    if tamper in ("other-tenant-path", "rewrapped"):
        # The refused token was never used: it can still be looked up (not consumed).
        assert vault_client.lookup(addr, token)["creation_path"]
    info = await telegram_standin.control.bot_info(victim_bot)
    assert not info.get("polling"), "the victim's bot was never started"
    await protocol.release(pool.consul, victim)


async def test_tenants_are_isolated_in_postgres_and_redis(
    activator: Activator, root_vault: hvac.Client, telegram_standin: TelegramStandin,
    postgres: PostgresHandle, redis_server: RedisHandle,
) -> None:
    a, b = new_tenant_id(), new_tenant_id()
    for tenant in (a, b):
        await activator.provision(spec_for(tenant, await new_bot(telegram_standin, "iso"), "Iso"))
    creds = {
        t: root_vault.secrets.kv.v2.read_secret_version(path=secret_path(t), mount_point="secret",
                                                         raise_on_deleted_version=False)["data"]["data"]
        for t in (a, b)
    }
    as_b = await asyncpg.connect(host=postgres.host, port=postgres.port, database="botpool", user=b,
                                 password=creds[b]["db_password"])
    await as_b.execute("CREATE TABLE clients (name text)")
    await as_b.execute("INSERT INTO clients VALUES ('secret client of B')")
    await as_b.close()

    as_a = await asyncpg.connect(host=postgres.host, port=postgres.port, database="botpool", user=a,
                                 password=creds[a]["db_password"])
    try:
        await as_a.execute("CREATE TABLE clients (name text)")  # its own schema is writable
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await as_a.fetch(f'SELECT * FROM "{b}".clients')
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await as_a.fetch("SELECT * FROM control.tenants")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await as_a.execute(f'CREATE TABLE "{b}".planted (x int)')
    finally:
        await as_a.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(host=postgres.host, port=postgres.port, database="botpool", user=a,
                              password=creds[b]["db_password"])

    redis_a = aioredis.Redis(host=redis_server.host, port=redis_server.port, username=a,
                             password=creds[a]["redis_password"])
    try:
        await redis_a.set(f"{a}:fsm:x", "mine")
        with pytest.raises(redis.exceptions.NoPermissionError):
            await redis_a.get(f"{b}:fsm:x")
        with pytest.raises(redis.exceptions.NoPermissionError):
            await redis_a.set(f"{b}:fsm:x", "planted")
        with pytest.raises(redis.exceptions.NoPermissionError):
            await redis_a.keys("*")
    finally:
        await redis_a.aclose()


async def test_unacknowledged_assignment_is_retried_on_another_slot(
    pool: Pool, activator: Activator, telegram_standin: TelegramStandin
) -> None:
    await pool.scale_to_free(3)
    snap = await protocol.snapshot(pool.consul)
    frozen = snap.free()[0]
    pids = process.slot_pids(frozen.alloc_id)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)  # alive but silent: it will never acknowledge
    try:
        bot = await new_bot(telegram_standin, "patient")
        tenant_id = new_tenant_id()
        activator.ack_timeout_s = 4
        result = await activator.activate(spec_for(tenant_id, bot, "Patient Salon"))
        assert result.slot_index != frozen.index
        await answers_start(telegram_standin, bot, "Patient Salon")
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    await activator.release(tenant_id)


async def test_expired_tenant_is_released_by_the_reconciler(
    pool: Pool, activator: Activator, telegram_standin: TelegramStandin, reconciler: object, postgres: PostgresHandle
) -> None:
    await pool.scale_to_free(2)
    bot = await new_bot(telegram_standin, "expiring")
    tenant_id = new_tenant_id()
    spec = dataclasses.replace(
        spec_for(tenant_id, bot, "Short Lease"), paid_until=datetime.now(UTC) + timedelta(seconds=6)
    )
    await activator.activate(spec)
    await answers_start(telegram_standin, bot, "Short Lease")
    conn = await asyncpg.connect(postgres.dsn)
    try:
        # This tenant gets no grace period (grace_days is per tenant; the default 3 days has its own tests).
        await conn.execute("UPDATE control.tenants SET grace_days = 0 WHERE tenant_id = $1", tenant_id)
        await protocol.wait_until(
            pool.consul,
            lambda s: tenant_id not in s.tenants and all(slot.tenant_id != tenant_id for slot in s.slots.values()),
            timeout_s=30,
        )
        assert await conn.fetchval("SELECT status FROM control.tenants WHERE tenant_id = $1", tenant_id) == "released"
    finally:
        await conn.close()


async def test_a_flooding_client_is_rate_limited(
    pool: Pool, activator: Activator, telegram_standin: TelegramStandin
) -> None:
    await pool.scale_to_free(1)
    bot = await new_bot(telegram_standin, "flooded")
    tenant_id = new_tenant_id()
    await activator.activate(spec_for(tenant_id, bot, "Busy Salon"))
    flooder = TgUser(id=555001, first_name="Flood")
    for _ in range(70):  # the slot allows 60 updates per user per minute (BOTPOOL_USER_RATE_PER_MIN)
        await telegram_standin.control.send_message(bot, flooder, "/start")
    await telegram_standin.control.wait_for_message(bot, flooder.id, contains="Too many messages", timeout=30)
    sent = await telegram_standin.control.messages(bot, flooder.id)
    bot_texts = [m["text"] for m in sent if m.get("from_bot")]
    assert sum("Too many messages" in t for t in bot_texts) == 1, "told once, not once per message"
    assert sum("Busy Salon" in t for t in bot_texts) <= 60
    # Another client of the same salon is not affected.
    await answers_start(telegram_standin, bot, "Busy Salon")
    await activator.release(tenant_id)


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run the real ``botpool`` command (as an operator would) and return its exit code and output."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "botpool_cli.main", *args, env={**env, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


async def test_operator_cli_adds_lists_shows_and_releases_a_tenant(
    pool: Pool, control_env: dict[str, str], telegram_standin: TelegramStandin
) -> None:
    await pool.scale_to_free(1)
    bot = await new_bot(telegram_standin, "cli")
    tenant_id = new_tenant_id()
    env = {**control_env, "BOTPOOL_STATE_DIR": "/nonexistent-botpool", "BOTPOOL_BOT_TOKEN": bot.token}
    code, out = await run_cli(env, "tenant", "add", "--id", tenant_id, "--company", "CLI Salon", "--admin", "7")
    assert code == 0, out
    assert f"@{bot.username}" in out
    assert bot.token not in out
    await answers_start(telegram_standin, bot, "CLI Salon")

    code, out = await run_cli(env, "tenant", "list")
    assert code == 0, out
    assert tenant_id in out
    assert "active" in out
    code, out = await run_cli(env, "status")
    assert tenant_id in out, out
    assert "passing" in out

    code, out = await run_cli({**env, "BOTPOOL_BOT_TOKEN": "not-a-token"}, "tenant", "add", "--company", "X",
                              "--admin", "7")
    assert code == 2
    assert "does not look like a bot token" in out
    assert "Traceback" not in out

    code, out = await run_cli(env, "tenant", "release", tenant_id)
    assert code == 0, out
    assert "released" in out


async def test_no_bot_token_anywhere_after_the_run(
    pool: Pool, stack: object, telegram_standin: TelegramStandin, redis_server: RedisHandle,
    postgres: PostgresHandle,
) -> None:
    assert len(TOKENS) >= 20, "the scan runs after the scripted activations above"
    haystacks: dict[str, str] = {}
    for path in pool.logs():
        haystacks[str(path)] = path.read_text(errors="replace")
    for path in (pool.root / "logs").glob("*.log"):
        haystacks[str(path)] = path.read_text(errors="replace")
    haystacks["telegram stand-in log"] = telegram_standin.log_path.read_text(errors="replace")
    _, entries = await pool.consul.kv.get("", recurse=True)
    for entry in entries or []:
        haystacks[f"consul:{entry['Key']}"] = (entry.get("Value") or b"").decode(errors="replace")
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        async for key in client.scan_iter(count=1000):
            raw_kind = await client.type(key)
            kind = raw_kind.decode() if isinstance(raw_kind, bytes) else str(raw_kind)
            if kind == "string":
                haystacks[f"redis:{key!r}"] = repr(await client.get(key))
            elif kind == "hash":
                haystacks[f"redis:{key!r}"] = repr(await client.hgetall(key))
    finally:
        await client.aclose()
    conn = await asyncpg.connect(postgres.dsn)
    try:
        for row in await conn.fetch("SELECT tenant_id, coalesce(last_error, '') AS e FROM control.tenants"):
            haystacks[f"control error {row['tenant_id']}"] = row["e"]
    finally:
        await conn.close()
    assert len(haystacks) > 20
    leaks = [(where, token[:8]) for where, text in haystacks.items() for token in TOKENS if token in text]
    assert not leaks, f"bot tokens leaked into: {sorted({w for w, _ in leaks})}"
    # The secret part alone must not leak either (e.g. a log that printed only the part after the colon).
    halves = {t.split(":", 1)[1] for t in TOKENS}
    assert not [w for w, text in haystacks.items() for h in halves if h in text]
