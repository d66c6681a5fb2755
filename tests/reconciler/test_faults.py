"""Faults the reconciler repairs, on the real pool (Nomad, Consul, Vault, PostgreSQL, Redis) with a real reconciler.

Each test leaves the system the way a crash, an outage or a bad row would,
then waits for what a buyer or an operator notices: the bot answering again,
or the tenant marked failed with its reason and one alert.
"""

from __future__ import annotations

import asyncio
import functools
import os
import signal
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from consul.aio import Consul
from pydantic import SecretStr

from botpool import alerts, jobspec
from botpool.clients import vault as vault_client
from botpool.clients.consul import register_node
from botpool.leader import LeaderElection
from botpool.pool import keys, protocol
from botpool.pool.model import Claim, ClaimKind, SlotMode, SlotState, utcnow
from botpool.tenancy import provision, store
from botpool.tenancy.activation import Activator
from botpool.tenancy.package import TenantPackage, secret_path
from devstack import process
from devstack.services import Postgres
from devstack.stack import Stack
from devstack.standins.telegram.client import BotInfo, TgUser
from reconciler.loop import Reconciler, Timing
from scaler.source import PoolSource
from tests.fixtures.greeting import greeted, spec_for
from tests.fixtures.stack import PostgresHandle
from tests.fixtures.telegram import TelegramStandin
from tests.pool.conftest import Pool
from tests.reconciler.conftest import log_length, wait_for_log

CLIENT = TgUser(id=778001, first_name="Olga")


def new_tenant_id() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


async def new_bot(telegram: TelegramStandin, name: str) -> BotInfo:
    return await telegram.control.create_bot(f"{name}_{uuid.uuid4().hex[:6]}_bot")


answers_start = functools.partial(greeted, client=CLIENT, timeout=60)


async def store_abandoned(
    activator: Activator, tenant_id: str, bot: BotInfo, company: str, *, timezone: str = "Europe/Moscow"
) -> None:
    """The tenant row an activator wrote before it crashed, long enough ago for the reconciler to take over."""
    await store.upsert(
        activator.db, tenant_id=tenant_id, company_name=company, admin_telegram_id=42, bot_id=bot.id,
        paid_until=datetime.now(UTC) + timedelta(days=30), timezone=timezone, language="ru",
    )
    await activator.db.execute(
        "UPDATE control.tenants SET updated_at = now() - interval '10 minutes' WHERE tenant_id = $1", tenant_id
    )


async def write_secret(activator: Activator, tenant_id: str, bot: BotInfo, company: str, timezone: str) -> None:
    """Step one of provisioning alone: the secret in Vault, with passwords no database has seen."""
    package = TenantPackage(
        tenant_id=tenant_id, bot_token=SecretStr(bot.token), db_password=SecretStr(provision.new_password()),
        redis_password=SecretStr(provision.new_password()), admin_telegram_id=42, company_name=company,
        timezone=timezone,
    )
    await asyncio.to_thread(
        vault_client.write_kv, activator.vault, activator.kv_mount, secret_path(tenant_id), package.to_vault()
    )


async def wait_status(
    activator: Activator, tenant_id: str, status: str, *, timeout_s: float = 60
) -> store.TenantRecord:
    """Wait until the control database shows the tenant in ``status`` (what ``botpool tenant list`` shows)."""
    async with asyncio.timeout(timeout_s):
        while True:
            record = await store.get(activator.db, tenant_id)
            if record is not None and record.status == status:
                return record
            await asyncio.sleep(0.2)


async def tenant_alerts(activator: Activator, tenant_id: str) -> list[alerts.Alert]:
    return [a for a in await alerts.list_alerts(activator.consul) if a.details.get("tenant_id") == tenant_id]


def kill_slot(alloc_id: str) -> None:
    victims = process.slot_pids(alloc_id)
    assert victims, "the slot's process was found"
    for pid in victims:
        os.kill(pid, signal.SIGKILL)


def served_elsewhere(
    tenant_id: str, alloc_id: str, started_at: datetime
) -> Callable[[protocol.PoolSnapshot], bool]:
    """Whether the tenant is ACTIVE in a slot other than the one (allocation and incarnation) that died."""

    def check(snap: protocol.PoolSnapshot) -> bool:
        return any(
            slot.tenant_id == tenant_id and slot.mode is SlotMode.ACTIVE
            and (slot.alloc_id != alloc_id or slot.started_at != started_at)
            for slot in snap.slots.values()
        )
    return check


async def test_the_reconciler_rides_out_a_database_outage_and_still_rehomes_a_dead_slots_tenant(
    pool: Pool, activator: Activator, telegram_standin: TelegramStandin, stack: Stack, reconciler: Path,
) -> None:
    await pool.scale_to_free(2)
    bot = await new_bot(telegram_standin, "outage")
    tenant_id = new_tenant_id()
    first = await activator.activate(spec_for(tenant_id, bot, "Outage Salon"))
    await wait_for_log(reconciler, "became leader")

    # The control database goes away under the reconciler (as in a PostgreSQL restart): its
    # connections are cut and new ones refused until the database accepts connections again.
    admin = await asyncpg.connect(Postgres().dsn(stack.state, "postgres"))
    try:
        await admin.execute("ALTER DATABASE botpool WITH ALLOW_CONNECTIONS false")
        try:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = 'botpool' AND usename = current_user AND pid <> pg_backend_pid()"
            )
            failed = await wait_for_log(reconciler, "reconcile pass failed; retrying")
            assert "botpool" in failed["error"] or "connect" in failed["error"].lower(), failed
        finally:
            await admin.execute("ALTER DATABASE botpool WITH ALLOW_CONNECTIONS true")
    finally:
        await admin.close()
    await wait_for_log(reconciler, "reconcile passes succeed again")

    # Then a slot dies: its tenant is still moved and answers again.
    snap = await protocol.snapshot(pool.consul)
    victim = snap.slots[first.slot_index]
    kill_slot(victim.alloc_id)
    await protocol.wait_until(
        pool.consul, served_elsewhere(tenant_id, victim.alloc_id, victim.started_at), timeout_s=60
    )
    await answers_start(telegram_standin, bot, "Outage Salon")
    await activator.release(tenant_id)


async def test_a_crash_between_provisioning_steps_is_repaired_and_the_bot_answers(
    pool: Pool, activator: Activator, telegram_standin: TelegramStandin, reconciler: Path,
) -> None:
    await pool.scale_to_free(2)
    bot = await new_bot(telegram_standin, "halfway")
    tenant_id = new_tenant_id()
    # The activator wrote the row and the Vault secret, then died before PostgreSQL and Redis.
    await store_abandoned(activator, tenant_id, bot, "Halfway Salon")
    await write_secret(activator, tenant_id, bot, "Halfway Salon", "Europe/Moscow")
    record = await wait_status(activator, tenant_id, "active")
    assert record.bot_username == bot.username
    await answers_start(telegram_standin, bot, "Halfway Salon")
    await activator.release(tenant_id)


async def test_a_tenant_whose_token_never_reached_vault_is_failed_with_one_alert(
    pool: Pool, activator: Activator, telegram_standin: TelegramStandin, reconciler: Path,
) -> None:
    bot = await new_bot(telegram_standin, "lost")
    tenant_id = new_tenant_id()
    await store_abandoned(activator, tenant_id, bot, "Lost Salon")  # crashed before the Vault write
    record = await wait_status(activator, tenant_id, "failed")
    assert record.failed_for(store.FAILED_SECRET_MISSING)
    assert record.last_error is not None and "missing from Vault" in record.last_error
    # Later passes leave it alone: still one alert after the reconciler has certainly passed again
    # (it cleaned an orphaned claim placed afterwards).
    mark = log_length(reconciler)
    await put_claim(pool, 903, new_tenant_id(), record_index=None)
    await wait_for_log(reconciler, "reconciled", after=mark)
    raised = await tenant_alerts(activator, tenant_id)
    assert [a.kind for a in raised] == ["tenant_failed"]
    assert "missing from Vault" in raised[0].message


async def test_a_poison_tenant_is_failed_with_its_reason_and_one_alert_not_retried_forever(
    pool: Pool, activator: Activator, telegram_standin: TelegramStandin, reconciler: Path,
) -> None:
    bot = await new_bot(telegram_standin, "mars")
    tenant_id = new_tenant_id()
    # Stored directly, bypassing the checks a new purchase gets: a time zone no slot can load.
    await store_abandoned(activator, tenant_id, bot, "Olympus Salon", timezone="Mars/Olympus")
    await write_secret(activator, tenant_id, bot, "Olympus Salon", "Mars/Olympus")
    record = await wait_status(activator, tenant_id, "failed")
    assert record.failed_for(store.FAILED_BAD_SPECIFICATION)
    assert record.last_error is not None and "Mars/Olympus" in record.last_error
    raised = await tenant_alerts(activator, tenant_id)
    assert [a.kind for a in raised] == ["tenant_failed"]
    assert "time zone" in raised[0].message
    snap = await protocol.snapshot(pool.consul)
    assert tenant_id not in snap.tenants
    assert not (await telegram_standin.control.bot_info(bot)).get("polling"), "no slot ever ran it"


async def test_a_tenant_every_slot_fails_is_retried_with_backoff_a_bounded_number_of_times(
    pool: Pool, activator: Activator, telegram_standin: TelegramStandin, postgres: PostgresHandle, consul: Consul,
) -> None:
    await pool.scale_to_free(3)
    bot = await new_bot(telegram_standin, "broken")
    tenant_id = new_tenant_id()
    await store_abandoned(activator, tenant_id, bot, "Broken Salon")
    await activator.provision(spec_for(tenant_id, bot, "Broken Salon"))
    # A schema the booking migrations cannot run in: every slot that takes the tenant fails it.
    admin = await asyncpg.connect(postgres.dsn)
    try:
        await admin.execute(f'CREATE TABLE "{tenant_id}".schema_migrations (broken int)')
    finally:
        await admin.close()

    timing = Timing(abandoned_after_s=0, retry_base_s=0.5, retry_max_s=2, max_failed_rounds=2)
    # A leader role of this test's own (the test tooling's token: no service may register an election of any name).
    leader = LeaderElection(consul, instance="test", role=f"reconciler-test-{uuid.uuid4().hex[:6]}")
    stop = asyncio.Event()
    tasks = [asyncio.create_task(leader.run()), asyncio.create_task(Reconciler(activator, timing).run(stop, leader))]
    try:
        record = await wait_status(activator, tenant_id, "failed", timeout_s=120)
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await leader.resign()
    assert record.activation_attempts == 2, "two rounds of at most three slots each, then it stopped"
    assert record.failed_for(store.FAILED_RETRIES_EXHAUSTED)
    assert record.last_error is not None and "2 rounds" in record.last_error
    assert [a.kind for a in await tenant_alerts(activator, tenant_id)] == ["tenant_failed"]


async def put_claim(pool: Pool, index: int, tenant_id: str, *, record_index: int | None) -> Claim:
    """Write a tenant claim on ``index`` (and the tenant's record pointing at ``record_index``, if given)."""
    claim = Claim(kind=ClaimKind.TENANT, attempt=uuid.uuid4().hex, slot_session="gone", alloc_id="gone",
                  claimed_at=utcnow(), tenant_id=tenant_id)
    ops = [protocol.kv_op("set", keys.claim(index), value=claim.to_json())]
    if record_index is not None:
        ops.append(protocol.kv_op("set", keys.tenant(tenant_id), value=str(record_index)))
    assert await protocol.transact(pool.consul, ops) is not None
    return claim


async def test_moving_a_tenant_whose_slot_vanished_deletes_its_old_claim(
    pool: Pool, activator: Activator, telegram_standin: TelegramStandin,
) -> None:
    await pool.scale_to_free(2)
    bot = await new_bot(telegram_standin, "vanished")
    tenant_id = new_tenant_id()
    spec = spec_for(tenant_id, bot, "Vanished Salon")
    await store.upsert(activator.db, tenant_id=tenant_id, company_name=spec.company_name, admin_telegram_id=42,
                       bot_id=bot.id, paid_until=spec.paid_until, timezone=spec.timezone, language=spec.language)
    await activator.provision(spec)
    await put_claim(pool, 900, tenant_id, record_index=900)  # its slot 900 is gone, its claim is not
    result = await activator.assign(tenant_id)
    snap = await protocol.snapshot(pool.consul)
    assert snap.tenants[tenant_id][0] == result.slot_index != 900
    assert 900 not in snap.claims, "the old claim went with the move: nothing for a returning process to re-adopt"
    assert not snap.orphan_claims()
    await activator.release(tenant_id)


async def test_an_orphaned_claim_is_not_busy_for_the_scaler_and_is_cleaned_by_the_reconciler(
    pool: Pool, activator: Activator, reconciler: Path,
) -> None:
    tenant_id = new_tenant_id()
    await put_claim(pool, 901, tenant_id, record_index=902)  # the tenant was claimed twice:
    await put_claim(pool, 902, tenant_id, record_index=None)  # its record names 902, so 901 is an orphan
    source = PoolSource(pool.consul, pool.nomad, job=jobspec.POOL.id, group=jobspec.POOL.group)
    reading = await source.read()
    assert 901 not in reading.busy_indexes and 902 in reading.busy_indexes
    await protocol.wait_until(pool.consul, lambda s: 901 not in s.claims, timeout_s=30)
    assert not (await protocol.snapshot(pool.consul)).orphan_claims()
    await protocol.release(pool.consul, tenant_id)


async def test_the_state_left_by_a_slot_nomad_no_longer_runs_is_counted_nowhere_and_removed(
    pool: Pool, reconciler: Path,
) -> None:
    # A slot killed with its allocation (a lost node, a purge) never removed its own state node.
    gone = str(uuid.uuid4())
    state = SlotState(index=950, alloc_id=gone, mode=SlotMode.WAITING, session="incarnation-of-the-dead",
                      started_at=utcnow())
    await register_node(pool.consul, keys.slot_node(gone), "127.0.0.1", state.to_meta())
    snap = await protocol.snapshot(pool.consul)
    assert 950 not in snap.slots and gone in snap.unregistered, "no buyer is offered a slot Nomad does not run"
    async with asyncio.timeout(30):
        index = None
        while True:  # blocking queries on the node, as the Consul UI's node list would change
            index, node = await pool.consul.catalog.node(keys.slot_node(gone), index=index, wait="10s")
            if not node:
                break
    assert gone not in (await protocol.snapshot(pool.consul)).unregistered
