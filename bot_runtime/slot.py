"""A pool slot's life: WAITING → ACTIVATING → ACTIVE → WAITING, driven by its claim in Consul.

The slot publishes its state as the meta of its own catalog node,
``slot-<allocation id>``: its Consul token may write that node and no other
key or node, so no slot can change another slot's state or any claim. It is
counted in the pool only while Nomad's registration of its allocation passes
its health checks, so a dead or frozen slot leaves the pool by itself. It
watches ``claims/<index>`` with blocking queries (never a sleep loop) and
accepts only claims addressed to this incarnation (a random id drawn at every
start): a claim left over from a previous incarnation of this allocation (the
process was killed and restarted) is not consumed and not mistaken for
tampering; the reconciler re-issues it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import uuid
from collections.abc import Awaitable, Callable

import structlog
from consul.aio import Consul

from bot_runtime import memory
from bot_runtime.fence import PauseFence
from bot_runtime.health import Health
from bot_runtime.metrics import SlotMetrics
from bot_runtime.settings import RuntimeSettings
from bot_runtime.tenant_bot import TenantBot, prewarm
from bot_runtime.view import ConsulView
from botpool.clients import vault as vault_client
from botpool.clients.consul import deregister_node, is_transient, register_node
from botpool.errors import BotpoolError, HandoffRefused, HandoffUnavailable, InvalidBotToken
from botpool.pool import handoff, keys, protocol
from botpool.pool.model import Claim, ClaimKind, SlotMode, SlotState, utcnow
from botpool.tenancy.package import TenantPackage, creation_path

log = structlog.get_logger("bot_runtime.slot")



class Slot:
    """One warm slot; ``run`` returns when ``stop`` is set, leaving the pool cleanly."""

    def __init__(self, settings: RuntimeSettings, consul: Consul) -> None:
        self.settings = settings
        self.consul = consul
        self.index = settings.alloc_index
        self.fence = PauseFence()
        self.metrics = SlotMetrics(self.index)
        self.bot = TenantBot(settings, self.fence, self.metrics)
        self.state = SlotState(
            index=self.index, alloc_id=settings.alloc_id, mode=SlotMode.WAITING, session=uuid.uuid4().hex,
            started_at=utcnow(),
        )
        #: The catalog node this slot publishes its state on; its token may write this node alone.
        self.node = keys.slot_node(settings.alloc_id)
        self.claim: Claim | None = None
        #: The last claim attempt this slot tried; a failed one is never tried twice (its wrap is single-use).
        self._tried: str | None = None
        #: The slot's entry in the Consul UI's per-state services, and Nomad's registration it mirrors.
        self.view = ConsulView(consul)
        self._nomad_service_id: str | None = None
        #: Set when a released slot leaves the pool to start afresh (``run`` then returns True).
        self._recycle = asyncio.Event()
        #: RSS (MB) once joined and prewarmed, before any tenant (set before claims are watched).
        self._fresh_mb = 0.0

    # ------------------------------------------------------------------ health
    def probe(self) -> tuple[Health, str]:
        """What Consul's HTTP check sees: WAITING / ACTIVE with tenant, DEGRADED (429) or FAILING (503)."""
        mode = self.state.mode
        if mode is SlotMode.ACTIVE:
            if not self.bot.healthy:
                why = "Telegram rejected the bot token" if self.bot.token_rejected else "bot stopped polling"
                return Health.FAILING, f"FAILING tenant={self.state.tenant_id} ({why})"
            if down := self.bot.dependencies_down:
                return Health.DEGRADED, (
                    f"DEGRADED tenant={self.state.tenant_id} @{self.state.bot_username} slot={self.index} "
                    f"({', '.join(down)} unavailable; users are asked to try again shortly)"
                )
            return Health.PASSING, f"ACTIVE tenant={self.state.tenant_id} @{self.state.bot_username} slot={self.index}"
        return Health.PASSING, f"{mode.value.upper()} slot={self.index} alloc={self.settings.alloc_id[:8]}"

    # ------------------------------------------------------------------ record
    async def _await_registration(self) -> None:
        """Wait (blocking queries) until Nomad's service check for this allocation is not critical.

        Joining before then would publish a state no reader counts (a slot is
        in the pool only while Nomad's registration of it is alive), and the
        Consul UI's view needs the registration's id. "warning" counts: it is
        what a serving slot reports while PostgreSQL or Redis is down (see
        ``bot_runtime.health``).
        """
        index = None
        while True:
            index, checks = await self.consul.health.checks(keys.SLOT_SERVICE, index=index, wait="10s")
            for check in checks:
                if self.settings.alloc_id in check.get("ServiceID", "") and check.get("Status") in (
                    "passing", "warning",
                ):
                    self._nomad_service_id = str(check["ServiceID"])
                    return

    async def _join(self) -> None:
        """Publish our state once Nomad's check of this allocation passes (replacing a dead incarnation's)."""
        await self._await_registration()
        await self._publish()

    async def _publish(self) -> None:
        """Write our state as our node's meta (a catalog write only our own token may make)."""
        await register_node(self.consul, self.node, self.settings.advertise_address, self.state.to_meta())
        if self._nomad_service_id:
            await self.view.show(self.state, self._nomad_service_id)  # for people; never fails the slot

    async def _set(self, **changes: object) -> None:
        self.state = self.state.model_copy(update=changes)
        self.metrics.set_state(self.state.mode)
        await self._publish()

    async def _guard_record(self) -> None:
        """Watch our own node (blocking queries): if it vanished (removed by hand, data lost), publish it again."""
        index = None
        while True:
            new_index, node = await self.consul.catalog.node(self.node, index=index, wait="30s")
            new_index = int(new_index)
            index = None if index is not None and new_index < index else new_index
            if not node or not node.get("Node"):
                log.warning("slot state record gone; publishing it again", slot=self.index)
                await self._publish()
                index = None

    # ------------------------------------------------------------------ claims
    async def _on_claim(self, claim: Claim | None) -> None:
        if self._recycle.is_set():
            return  # leaving to start afresh: nothing more is taken here
        if claim is None:
            if self.state.mode is SlotMode.ACTIVE:
                await self.bot.stop()
                if self._outgrown():
                    # Never published as WAITING again: no buyer can be sent here while the process restarts.
                    log.info("tenant released; the slot starts afresh", slot=self.index,
                             tenant_id=self.state.tenant_id)
                    self.claim = None
                    self._recycle.set()
                    return
            if self.state.mode is not SlotMode.WAITING or self.state.tenant_id:
                await self._deactivate()
            return
        if claim.kind is ClaimKind.FENCE:
            if self.state.mode is SlotMode.ACTIVE:
                return  # never drain a busy slot; the scaler re-checks before shrinking
            if self.state.mode is not SlotMode.DRAINING:
                await self._set(mode=SlotMode.DRAINING, tenant_id=None, attempt=claim.attempt, error=None)
            return
        if claim.slot_session != self.state.session or claim.alloc_id != self.settings.alloc_id:
            return  # left over from a previous incarnation: not ours to consume
        if self.claim is not None and self.claim.attempt == claim.attempt:
            self.claim = claim
            return
        if claim.attempt == self._tried:
            return  # this attempt already failed here; the activator or reconciler moves it on
        if self.state.tenant_id:
            await self._deactivate()
        await self._activate(claim)

    async def _activate(self, claim: Claim) -> None:
        tenant_id = claim.tenant_id or ""
        self.claim = claim
        self._tried = claim.attempt
        started = asyncio.get_running_loop().time()
        await self._set(mode=SlotMode.ACTIVATING, tenant_id=tenant_id, attempt=claim.attempt, error=None)
        expected = creation_path(self.settings.vault_kv_mount, tenant_id)
        addr = str(self.settings.vault_addr)
        try:
            # Only this allocation's own Vault token can read its handoff; the claim in Consul holds no secret.
            wrap_token = await asyncio.to_thread(
                handoff.take, addr, self.settings.vault_token_file, self.settings.vault_kv_mount,
                alloc_id=self.settings.alloc_id, tenant_id=tenant_id, attempt=claim.attempt,
            )
            data = await asyncio.to_thread(vault_client.unwrap_verified, addr, wrap_token, expected)
            del wrap_token
            package = TenantPackage.from_vault(data)
            if package.tenant_id != tenant_id:
                raise HandoffRefused(f"unwrapped secret belongs to {package.tenant_id}, claim names {tenant_id}")
        except handoff.HandoffMissing as exc:
            # Nothing was received, so nothing was tampered with: fail the attempt, the activator retries elsewhere.
            log.warning("no handoff for the claim", slot=self.index, tenant_id=tenant_id, reason=str(exc))
            await self._fail(f"handoff_missing: {exc}")
            return
        except HandoffUnavailable as exc:
            # Vault could not be asked (down, restarting, or our own token refused): no evidence of theft, no alert.
            log.warning("handoff unavailable", slot=self.index, tenant_id=tenant_id, reason=str(exc))
            await self._fail(f"handoff_unavailable: {exc}")
            return
        except HandoffRefused as exc:
            # Reported in our state, which only we can write; the activator and the reconciler raise the alert.
            log.error("handoff refused", slot=self.index, tenant_id=tenant_id, reason=str(exc))
            await self._fail(f"handoff_refused: {exc}")
            return
        try:
            username = await self.bot.start(package)
        except InvalidBotToken as exc:
            await self._fail(f"invalid_token: {exc}")
            return
        except BotpoolError as exc:
            await self._fail(f"start_failed: {exc}")
            return
        finally:
            del package
        await self._set(
            mode=SlotMode.ACTIVE, bot_username=username, activated_at=utcnow(), error=None,
        )
        seconds = asyncio.get_running_loop().time() - started
        self.metrics.activated(seconds)
        log.info("tenant active", slot=self.index, tenant_id=tenant_id, bot=username, seconds=round(seconds, 3))

    async def _fail(self, error: str) -> None:
        """Report a failed attempt (the activator and reconciler read it) and stay free of the tenant."""
        self.metrics.activation_failed(error)
        await self.bot.stop()
        attempt = self.claim.attempt if self.claim else None
        self.claim = None
        await self._set(mode=SlotMode.WAITING, tenant_id=None, bot_username=None, activated_at=None,
                        attempt=attempt, error=error[:300])

    def _outgrown(self) -> bool:
        """After a tenant's bot stopped: give back freed memory, and say whether the slot must start afresh."""
        if not self.settings.recycle:
            return False
        memory.trim()
        return memory.rss_mb() - self._fresh_mb > self.settings.recycle_growth_mb

    async def _deactivate(self) -> None:
        tenant_id = self.state.tenant_id
        await self.bot.stop()
        self.claim = None
        await self._set(mode=SlotMode.WAITING, tenant_id=None, bot_username=None, activated_at=None,
                        attempt=None, error=None)
        log.info("tenant released", slot=self.index, tenant_id=tenant_id)

    # --------------------------------------------------------------------- run
    async def _resilient(self, step: Callable[[], Awaitable[None]], name: str) -> None:
        """Run ``step`` to its end, riding out transient Consul failures with capped, jittered backoff.

        A slot must not die because its agent briefly refused it (HTTP 429
        while a batch of slots starts, or an agent restart): dying would cost a
        Nomad restart and, for an active slot, its tenant. Hand-written rather
        than tenacity because a watch runs for days: the backoff must reset
        after a healthy stretch, where tenacity's attempt count only grows.
        """
        loop = asyncio.get_running_loop()
        delay = 0.5
        while True:
            started = loop.time()
            try:
                await step()
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if loop.time() - started > 60:
                    delay = 0.5
                log.warning("consul unavailable; retrying", slot=self.index, step=name,
                            error=type(exc).__name__, retry_in_s=round(delay, 2))
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not security
                delay = min(delay * 2, 10.0)

    async def run(self, stop: asyncio.Event) -> bool:
        """Join the pool, follow our claim until ``stop``, then leave the pool (our node removed).

        Returns True when the slot left to be recycled: its tenant was released and the process should
        start afresh (``bot_runtime.__main__`` execs itself, keeping its pid, so Nomad sees no restart).
        Leaving first removes our record, so the pool counts this slot neither free nor busy until the
        fresh process (a new incarnation) joins again, a second or two later.
        """
        await self._resilient(self._join, "join")
        log.info("slot waiting", slot=self.index, alloc=self.settings.alloc_id)
        if self.settings.prewarm:
            # In a worker thread, after joining: the slot is already claimable, and a claim that arrives
            # meanwhile only waits for the import lock instead of paying the imports twice.
            await asyncio.to_thread(prewarm)
        # What this slot weighs before any tenant: the yardstick of "grown" after a release.
        memory.trim()
        self._fresh_mb = memory.rss_mb()
        watcher = asyncio.create_task(self._resilient(self._watch_claims, "claims"))
        guard = asyncio.create_task(self._resilient(self._guard_record, "record"))
        fence = asyncio.create_task(self.fence.watch(self._on_pause))
        stopper = asyncio.create_task(stop.wait())
        recycler = asyncio.create_task(self._recycle.wait())
        try:
            done, _ = await asyncio.wait(
                {watcher, guard, fence, stopper, recycler}, return_when=asyncio.FIRST_COMPLETED,
            )
            for task in done - {stopper, recycler}:
                task.result()
        finally:
            for task in (watcher, guard, fence, stopper, recycler):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            await self.bot.stop()
            await self.view.hide(self.index)
            with contextlib.suppress(Exception):
                await deregister_node(self.consul, self.node)
        return self._recycle.is_set() and not stop.is_set()

    async def _on_pause(self, paused: float) -> None:
        """After a freeze past the check's tolerance: stop the tenant's bot and report the attempt failed.

        By now the fence (``bot_runtime.fence``) already refuses every request and update, so nothing
        left this slot on waking; stopping the bot ends its tasks, and the failure report makes the
        reconciler keep (or make) the tenant's one home elsewhere. The wrap token was single-use, so this
        slot cannot resume the tenant.
        """
        if self.state.mode is not SlotMode.ACTIVE:
            return
        log.warning("slot was frozen; stopping its tenant bot", slot=self.index,
                    tenant_id=self.state.tenant_id, seconds=round(paused, 1))
        reason = f"paused: the process was frozen for {paused:.0f} s; its tenant moves"
        await self.bot.stop()
        await self._resilient(functools.partial(self._fail, reason), "fence")

    async def _watch_claims(self) -> None:
        index = None
        while True:
            new_index, entry = await self.consul.kv.get(keys.claim(self.index), index=index, wait="30s")
            new_index = int(new_index)
            if index is not None and new_index < index:
                index = None
                continue
            if new_index != index:
                # An unreadable claim counts as none (reported once): every reader skips it alike.
                claim = await protocol.decode(self.consul, Claim, entry) if entry and entry.get("Value") else None
                try:
                    await self._on_claim(claim)
                except BotpoolError as exc:
                    log.error("claim handling failed", slot=self.index, error=str(exc))
                except Exception as exc:
                    if is_transient(exc):
                        raise  # Consul is away: ``_resilient`` backs off and watches again
                    # Anything else (a malformed secret, a bug): the watch goes on, and an attempt
                    # caught half-way is reported failed so the activator moves on without waiting.
                    log.error("claim handling failed", slot=self.index, error=f"{type(exc).__name__}: {exc}"[:300])
                    if self.state.mode is SlotMode.ACTIVATING:
                        await self._fail(f"start_failed: {type(exc).__name__}")
            index = new_index
            if self.state.mode is SlotMode.ACTIVE and not self.bot.healthy and not self._recycle.is_set():
                log.error("tenant bot stopped polling", slot=self.index, tenant_id=self.state.tenant_id)
