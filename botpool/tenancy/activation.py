"""The one activation entry point: from a paid tenant to its bot answering in a pool slot.

Used by ``botpool tenant add`` now and by the sales bot after payment. Every
step is durable before the next and safe to repeat: the tenant row is written
first (so nothing paid is ever lost), then the credentials go to Vault, the
tenant's role, schema and Redis user are (re)provisioned from what Vault holds,
and a slot is claimed; a freshly wrapped token then goes to that slot's
allocation alone through Vault (``botpool.pool.handoff``), never through
Consul. Vault is the one source of
the tenant's passwords: provisioning again keeps them, and ``restore_credentials``
re-applies them to PostgreSQL and Redis, so a crash between the steps is
repaired by running them again (the reconciler does, before every re-home).
Only the slot's own acknowledgement in Consul counts as success; a refusal or
silence is retried on another slot and then reported, never reported as ready (defects 4 and 5 of the earlier design).

Outcomes a caller tells the buyer: ``ActivationResult`` (the bot answers now),
``ActivationFailed`` (Telegram rejected the token: the buyer must act), and
``ActivationPending`` (no slot within the whole wait: the tenant stays queued
in 'activating' and the reconciler serves it; "being prepared", not "failed").
Bad input never gets this far: ``TenantSpec`` (``botpool.tenancy.spec``)
refuses it when it is built.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import hvac
import hvac.exceptions
import redis.asyncio as aioredis
import structlog
from consul.aio import Consul
from pydantic import SecretStr

from botpool import alerts
from botpool.clients import vault as vault_client
from botpool.errors import (
    ActivationFailed,
    ActivationPending,
    ClaimConflict,
    InvalidTenantSpec,
    PoolExhausted,
    TenantSecretMissing,
)
from botpool.pool import handoff, protocol
from botpool.pool.model import Claim, SlotMode, SlotState
from botpool.tenancy import provision, rotation, store
from botpool.tenancy import spec as spec_rules
from botpool.tenancy.package import TenantPackage, creation_path, pending_path, secret_path
from botpool.tenancy.spec import TenantSpec

__all__ = ["ActivationResult", "Activator", "TenantSpec"]

log = structlog.get_logger("botpool.activation")

#: How long a slot may take to acknowledge an assignment before it is retried elsewhere.
ACK_TIMEOUT_S = 20.0
#: How long an activation waits for a free slot (a release finishing, the scaler adding slots).
POOL_WAIT_S = 60.0
#: Slots tried for one activation before giving up (each failure excludes that slot).
MAX_SLOT_ATTEMPTS = 3
#: A wrapping token older than this is replaced before a claim, so a slot never gets one about to expire.
WRAP_REFRESH_S = vault_client.WRAP_TTL_S / 2


@dataclass(frozen=True)
class ActivationResult:
    """Where the tenant's bot now runs and how long it took."""

    tenant_id: str
    slot_index: int
    bot_username: str
    seconds: float


@dataclass(frozen=True)
class _Ack:
    ok: bool
    text: str


class Activator:
    """Activates, re-activates and releases tenants against the pool."""

    def __init__(
        self,
        *,
        consul: Consul,
        vault: hvac.Client,
        kv_mount: str,
        db: asyncpg.Pool,
        redis_admin: aioredis.Redis,
        database_name: str,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        pool_wait_s: float = POOL_WAIT_S,
    ) -> None:
        self.consul = consul
        self.vault = vault
        self.kv_mount = kv_mount
        self.db = db
        self.redis_admin = redis_admin
        self.database_name = database_name
        self.ack_timeout_s = ack_timeout_s
        self.pool_wait_s = pool_wait_s

    async def prepare(self) -> None:
        """Create the control schema and database-wide settings, and bring every tenant's Redis rules up to date.

        Idempotent; run by every control-plane process at start, which is how
        an upgrade that narrows tenant permissions reaches existing tenants.
        """
        async with self.db.acquire() as conn:
            await store.migrate(conn)
            await provision.prepare_database(conn, self.database_name)
        await provision.confine_redis_users(self.redis_admin)

    async def activate(self, spec: TenantSpec) -> ActivationResult:
        """Record, provision and assign a tenant; returns once its slot acknowledges ACTIVE.

        The spec was validated when it was built, so nothing invalid is stored.
        Raises ``ActivationFailed`` when Telegram rejects the token (the buyer
        must act) and ``ActivationPending`` when no slot took the tenant within
        the wait (it stays 'activating' and the reconciler finishes it).
        """
        await store.upsert(
            self.db, tenant_id=spec.tenant_id, company_name=spec.company_name,
            admin_telegram_id=spec.admin_telegram_id, bot_id=spec.bot_id, paid_until=spec.paid_until,
            timezone=spec.timezone, language=spec.language,
        )
        await self.provision(spec)
        return await self.assign(spec.tenant_id)

    async def provision(self, spec: TenantSpec) -> None:
        """Write the tenant's secret to Vault and apply its passwords to the tenant's role and Redis user.

        Idempotent: a tenant that already has a secret keeps its passwords (only
        the token and profile are updated), so running this again, for a renewal
        or after a crash between the steps, never locks out a bot that runs with
        the current ones. Vault is written first; the role and the Redis user are
        then set from what was written, and ``restore_credentials`` repeats that
        step alone.
        """
        current = await self._stored_package(spec.tenant_id)
        package = TenantPackage(
            tenant_id=spec.tenant_id, bot_token=spec.bot_token,
            db_password=current.db_password if current else SecretStr(provision.new_password()),
            redis_password=current.redis_password if current else SecretStr(provision.new_password()),
            admin_telegram_id=spec.admin_telegram_id, company_name=spec.company_name,
            timezone=spec.timezone, language=spec.language,
        )
        await asyncio.to_thread(
            vault_client.write_kv, self.vault, self.kv_mount, secret_path(spec.tenant_id), package.to_vault()
        )
        await self._apply_credentials(package)
        await self.publish_subscription(spec.tenant_id)

    async def publish_subscription(self, tenant_id: str) -> None:
        """Copy the tenant's paid and grace periods into its schema, where its bot reads them (``provision``)."""
        tenant = await store.get(self.db, tenant_id)
        if tenant is None:
            return
        async with self.db.acquire() as conn:
            await provision.write_subscription(conn, tenant_id, tenant.paid_until, tenant.serve_until)

    async def restore_credentials(self, tenant_id: str) -> None:
        """Apply the passwords Vault holds for a tenant to its role and Redis user (created if missing).

        What repairs a crash between the provisioning steps, or a role or Redis
        user lost since: after this, the credentials a slot unwraps are accepted.
        Raises ``TenantSecretMissing`` when Vault has no secret for the tenant.
        """
        package = await self._stored_package(tenant_id)
        if package is None:
            raise TenantSecretMissing(f"the secret of tenant {tenant_id} is missing from Vault")
        await self._apply_credentials(package)
        await self.publish_subscription(tenant_id)

    async def _apply_credentials(self, package: TenantPackage) -> None:
        async with self.db.acquire() as conn:
            await provision.provision_postgres(
                conn, package.tenant_id, package.db_password.get_secret_value(), self.database_name
            )
        await provision.provision_redis(
            self.redis_admin, package.tenant_id, package.redis_password.get_secret_value()
        )

    async def _stored_package(self, tenant_id: str) -> TenantPackage | None:
        """The tenant's secret as Vault holds it, or None if there is none.

        Read the only way the activator's policy allows: wrapped, then unwrapped
        here after the same creation-path check a slot makes.
        """
        try:
            wrapped = await self._read_wrapped(tenant_id)
        except TenantSecretMissing:
            return None
        data = await asyncio.to_thread(
            vault_client.unwrap_verified, self.vault.url, wrapped.token, creation_path(self.kv_mount, tenant_id)
        )
        return TenantPackage.from_vault(data)

    async def _read_wrapped(self, tenant_id: str) -> vault_client.Wrapped:
        """A wrapped read of the tenant's secret; ``TenantSecretMissing`` if Vault has none."""
        try:
            return await asyncio.to_thread(
                vault_client.read_wrapped, self.vault, self.kv_mount, secret_path(tenant_id)
            )
        except hvac.exceptions.InvalidPath:
            raise TenantSecretMissing(f"the secret of tenant {tenant_id} is missing from Vault") from None

    async def check_stored_spec(self, tenant_id: str) -> store.TenantRecord | None:
        """Check a stored tenant's profile with the rules a new ``TenantSpec`` obeys; the record, or None if gone.

        A row written before those rules existed, or by hand, can hold what no
        slot can run (an unknown time zone): checking it here turns a failure
        that would repeat on every slot into one ``InvalidTenantSpec``.
        """
        record = await store.get(self.db, tenant_id)
        if record is None:
            return None
        spec_rules.validate_company_name(record.company_name)
        if spec_rules.validate_timezone(record.timezone) != record.timezone:
            raise InvalidTenantSpec(
                "timezone_not_canonical", "timezone", f"The time zone {record.timezone!r} is not written canonically."
            )
        spec_rules.validate_language(record.language)
        return record

    async def fail(self, tenant_id: str, reason: str) -> bool:
        """Mark a live tenant failed for a reason that will not pass by itself, and alert an operator once.

        Conditional on the tenant still being live, so of several processes
        reaching the same verdict one records it and raises the alert. Returns
        whether this call did.
        """
        if not await store.mark(self.db, tenant_id, "failed", expected=store.LIVE, error=reason[:500]):
            return False
        log.error("tenant failed", tenant_id=tenant_id, reason=reason)
        await alerts.raise_alert(
            self.consul, "tenant_failed", f"tenant {tenant_id} was not activated and will not be retried: {reason}",
            tenant_id=tenant_id, reason=reason[:500],
        )
        return True

    async def assign(self, tenant_id: str, *, reserved: Claim | None = None) -> ActivationResult:
        """Claim a slot, hand it a fresh wrapped token and wait for its acknowledgement; retry on other slots.

        Waits its turn for a free slot until ``pool_wait_s`` has truly run out:
        losing a race for a freed slot to another buyer only means waiting for
        the next one. When the wait runs out (or every attempted slot failed to
        answer) the tenant stays 'activating' and ``ActivationPending`` is
        raised: the reconciler serves it as soon as it can, so nobody is told
        "failed" about a bot that will run. A refusal showing that someone used
        the handoff first rotates the tenant's credentials before the next slot
        (``botpool.tenancy.rotation``). ``reserved``: a slot fenced for this
        tenant (``protocol.reserve``, a move off a leaving node) is tried first.
        """
        started = time.monotonic()
        deadline = started + self.pool_wait_s
        excluded: set[int] = set()
        last_error = "no attempt made"
        await rotation.settle(self, tenant_id)  # credentials known to be stolen are never handed out again
        for _ in range(MAX_SLOT_ATTEMPTS):
            try:
                slot, claim = await self._claim_when_free(tenant_id, excluded, deadline, reserved)
            except PoolExhausted:
                await store.note_waiting(self.db, tenant_id, f"waiting for a free slot ({self.pool_wait_s:.0f} s)")
                raise ActivationPending(
                    tenant_id,
                    f"No slot was free for {tenant_id} within {self.pool_wait_s:.0f} s; it stays queued and "
                    "becomes active as soon as a slot is free.",
                ) from None
            ack = await self.await_verdict(slot.index, claim)
            if not ack.ok:
                last_error = ack.text
                log.warning("activation attempt failed", tenant_id=tenant_id, slot=slot.index, error=ack.text)
                stolen = rotation.is_theft(ack.text)
                if stolen:  # durable before the claim that shows it is dropped
                    await rotation.record(self.db, tenant_id, claim.attempt, ack.text)
                await protocol.drop_claim(self.consul, slot.index, claim)
                if ack.text.startswith(store.FAILED_INVALID_TOKEN):
                    await self.fail(tenant_id, ack.text)
                    raise ActivationFailed(f"Telegram rejected the bot token of {tenant_id}")
                if stolen:
                    await rotation.settle(self, tenant_id)
                excluded.add(slot.index)
                continue
            if not await store.mark(
                self.db, tenant_id, "active", expected=store.LIVE, slot_index=slot.index, bot_username=ack.text
            ):
                # Released or failed while the slot started: the reconciler takes the slot back.
                log.warning("tenant left its live status during activation", tenant_id=tenant_id, slot=slot.index)
            return ActivationResult(tenant_id, slot.index, ack.text, time.monotonic() - started)
        await store.note_waiting(self.db, tenant_id, last_error)
        raise ActivationPending(
            tenant_id,
            f"{MAX_SLOT_ATTEMPTS} slots did not start {tenant_id} ({last_error}); it stays queued and is retried "
            "on another slot.",
            slot_failures=len(excluded),
        )

    async def _claim_when_free(
        self, tenant_id: str, excluded: set[int], deadline: float, reserved: Claim | None = None
    ) -> tuple[SlotState, Claim]:
        """Claim the lowest free slot, waiting (blocking queries on the pool) until ``deadline`` for one.

        Every waiter is woken by every change of the pool and tries again; a
        lost check-and-set is no failure, only the deadline is. Raises
        ``PoolExhausted`` once the deadline has passed with no slot claimed.
        """

        def claimable(snap: protocol.PoolSnapshot) -> bool:
            # Another activator (the reconciler) may have claimed for us.
            return snap.home(tenant_id) is not None or bool(snap.offered(tenant_id, excluded))

        wrapped: vault_client.Wrapped | None = None
        wrapped_at = 0.0
        logged = False
        while True:
            if wrapped is None or time.monotonic() - wrapped_at > WRAP_REFRESH_S:
                wrapped = await self._read_wrapped(tenant_id)
                wrapped_at = time.monotonic()
            try:
                return await protocol.claim(
                    self.consul, tenant_id, self.deliverer(wrapped), exclude=excluded,
                    reserved=None if excluded else reserved,
                )
            except (PoolExhausted, ClaimConflict):
                pass  # none free right now, or others won every race: wait for the pool to change
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PoolExhausted(f"no free slot for {tenant_id} within {self.pool_wait_s:.0f} s")
            if not logged:
                log.warning("no free slot; waiting for one", tenant_id=tenant_id, seconds=round(remaining, 1))
                logged = True
            try:
                await protocol.wait_until(self.consul, claimable, timeout_s=remaining)
            except TimeoutError:
                raise PoolExhausted(f"no free slot for {tenant_id} within {self.pool_wait_s:.0f} s") from None

    def deliverer(self, wrapped: vault_client.Wrapped) -> protocol.Deliver:
        """Hand ``wrapped`` to the slot a claim won, through Vault, at that allocation's own handoff path.

        Only that allocation's Vault token can read the path (docs/handoff.md),
        so nobody else reading Consul, another slot included, gets the token.
        The allocation is the one Nomad registered at the claimed index: a slot
        enters a pool snapshot only through Nomad's registration of it
        (``protocol.snapshot``), which no slot can write.
        """

        async def deliver(slot: SlotState, claim: Claim) -> None:
            entry = handoff.Handoff(
                tenant_id=claim.tenant_id or "", attempt=claim.attempt, alloc_id=claim.alloc_id,
                wrap_token=wrapped.token,
            )
            await asyncio.to_thread(handoff.deliver, self.vault, self.kv_mount, entry)

        return deliver

    async def await_verdict(self, index: int, claim: Claim) -> _Ack:
        """Wait for the slot's verdict: ACTIVE (text = bot username), or a refusal, failure or silence.

        A refused handoff is reported to the operators here (``rotation.alert_refusal``, once per
        attempt), from the slot's own state: the slot itself may write no alert.
        """

        def verdict(snap: protocol.PoolSnapshot) -> _Ack | None:
            state = snap.slots.get(index)
            current = snap.claims.get(index)
            if current is None or current.attempt != claim.attempt:
                return _Ack(False, f"the claim on slot {index} was withdrawn")  # released or reconciled
            if state is not None and (state.alloc_id != claim.alloc_id or state.session != claim.slot_session):
                return _Ack(False, f"slot {index} started afresh after it was claimed")  # never takes it
            # A slot that left the pool (dead, frozen, its node lost) is waited for, up to the timeout: failing
            # at once sent buyers to the free slots that tenants of a lost node were about to be re-homed on
            # (bench/faults.py lose_node: 29-32 s of silence instead of 8-9 s).
            if state is None or state.attempt != claim.attempt:
                return None
            if state.mode is SlotMode.ACTIVE:
                return _Ack(True, state.bot_username or "")
            return _Ack(False, state.error) if state.error else None

        try:
            snap = await protocol.wait_until(
                self.consul, lambda s: verdict(s) is not None, timeout_s=self.ack_timeout_s
            )
        except TimeoutError:
            return _Ack(False, f"slot {index} did not acknowledge within {self.ack_timeout_s:.0f} s"
                        f" ({await self._silence(index, claim)})")
        ack = verdict(snap) or _Ack(False, "unknown failure")
        if not ack.ok:
            await rotation.alert_refusal(self.consul, index, claim.tenant_id or "", claim.attempt, ack.text)
        return ack

    async def _silence(self, index: int, claim: Claim) -> str:
        """Why a claimed slot stayed silent, as far as the pool shows: it left, never took the claim, or is still
        starting the tenant's bot. Tells an operator where to look (the slot, Consul, or the tenant's
        dependencies) without reading every log."""
        try:
            state = (await protocol.snapshot(self.consul)).slots.get(index)
        except Exception as exc:  # the pool is unreadable now; say so rather than guess
            return f"the pool could not be read: {type(exc).__name__}"
        if state is None:
            return "it left the pool: its check is failing or Nomad no longer runs it"
        if state.attempt != claim.attempt:
            return f"it never took the claim; it reports {state.mode.value}"
        return f"it took the claim and reports {state.mode.value}"

    async def release(self, tenant_id: str) -> int | None:
        """Stop serving a tenant (cancelled, or failed for good): the slot returns to WAITING; data is kept.

        The status moves only from a live or failed one; the slot is freed in any
        case, since a released tenant must hold none.
        """
        await store.mark(self.db, tenant_id, "released", expected=(*store.LIVE, "failed"))
        return await protocol.release(self.consul, tenant_id)

    async def delete(self, tenant_id: str) -> list[str]:
        """Remove everything a tenant had: schema and role, Redis user and keys, Vault secret; what was removed.

        Called for a tenant already marked 'deleted' (``store.begin_deletion``), so no renewal
        or activation can race it. Every step is idempotent: a deletion a crash interrupted
        is finished by the next pass. The record is the caller's (``store.record_deletion``).
        """
        removed: list[str] = []
        async with self.db.acquire() as conn:
            if await provision.deprovision_postgres(conn, tenant_id, self.database_name):
                removed.append("postgres schema and role")
        existed, keys = await provision.deprovision_redis(self.redis_admin, tenant_id)
        if existed:
            removed.append("redis user")
        removed.append(f"redis keys: {keys}")
        for path in (secret_path(tenant_id), pending_path(tenant_id)):
            await asyncio.to_thread(vault_client.delete_kv, self.vault, self.kv_mount, path)
        removed.append("vault secret")
        log.info("tenant deleted", tenant_id=tenant_id, removed=removed)
        return removed

    async def release_expired(self, tenant_id: str, now: datetime) -> bool:
        """Release a tenant whose paid period ended by ``now``; False (nothing done) if it was renewed meanwhile."""
        if not await store.release_expired(self.db, tenant_id, now):
            return False
        await protocol.release(self.consul, tenant_id)
        return True
