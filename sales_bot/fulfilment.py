"""After payment: the order's tenant activated through the one ``Activator``, and the buyer told once.

``on_paid`` is the fulfilment seam of ``botpool.commerce.payments``: it moves the order
``paid -> activating`` (conditional, so one writer activates), reads the bot token (``tokens``), builds a
checked ``TenantSpec`` and calls ``Activator.activate``, which returns only after the slot acknowledged.
Then ``activating -> active`` and the "ready" message, claimed in the order row (``ready_notified_at``)
so it is sent exactly once by whichever process gets there first.

Activation that takes longer than ``prepare_after_s`` (no free slot: the scaler is adding some) tells
the buyer the bot is being prepared. If the wait runs out (``ActivationPending``) the tenant stays
durable in ``activating`` and the reconciler serves it; ``watch`` sees the tenant turn active and sends
"ready" then. ``watch`` also recovers from a crash at any point: an order left ``activating`` that this
process never tried is activated again (every step of activation is idempotent), and an active order
whose "ready" was never sent gets it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramUnauthorizedError

from botpool.commerce.orders import Order, OrderStatus, OrderStore
from botpool.commerce.subscriptions import RenewalRefused, Subscriptions
from botpool.db.migrations import quote_ident
from botpool.errors import (
    ActivationFailed,
    ActivationPending,
    HandoffRefused,
    InvalidBotToken,
    PoolExhausted,
    TenantError,
)
from botpool.i18n import N_
from botpool.logs import redact
from botpool.tenancy import store as tenancy_store
from botpool.tenancy.activation import Activator
from botpool.tenancy.spec import TenantSpec
from sales_bot import keyboards
from sales_bot.retired import RetiredBots
from sales_bot.texts import tr_for
from sales_bot.theft import TheftFollowUp
from sales_bot.tokens import BotTokens

log = structlog.get_logger("sales_bot.fulfilment")

#: Reasons stored on a failed order (``status_reason``); the bot explains each.
REASON_TOKEN_REJECTED = "bot_token_rejected"  # noqa: S105 - a reason code, not a secret
REASON_BOT_IN_USE = "bot_in_use"
REASON_TOKEN_UNAVAILABLE = "bot_token_unavailable"  # noqa: S105 - a reason code, not a secret
#: The reconciler gave up on the tenant (its slots kept failing it); the operator was alerted.
REASON_ACTIVATION_FAILED = "activation_failed"
#: What the buyer is told for each reason.
FAILED: dict[str, str] = {
    REASON_TOKEN_REJECTED: N_("failed_bot_token_rejected"),
    REASON_BOT_IN_USE: N_("failed_bot_in_use"),
    REASON_TOKEN_UNAVAILABLE: N_("failed_bot_token_unavailable"),
    REASON_ACTIVATION_FAILED: N_("failed_activation"),
}
_PREPARING = N_("preparing")
_TOKEN_REVOKED = N_("token_revoked")
_READY, _RENEWED, _RENEW_REFUSED = N_("ready"), N_("renewed"), N_("renew_refused")
#: Why a paid renewal could not be applied (its tenant is gone): stored as the order's status reason.
REASON_TENANT_GONE = "tenant_gone"
#: The longest pause between two tries of an order whose activation keeps failing for a passing reason.
RETRY_MAX_S = 300.0


class Fulfiller:
    """Activates paid orders and tells their buyers; one per sales bot process."""

    def __init__(
        self, *, orders: OrderStore, activator: Activator, tokens: BotTokens, bot: Bot, db: asyncpg.Pool,
        prepare_after_s: float = 2.0,
    ) -> None:
        """Wire the order store, the activator, the token source and the sales bot that talks to buyers."""
        self.orders = orders
        self.activator = activator
        self.tokens = tokens
        self.bot = bot
        self.db = db
        self.prepare_after_s = prepare_after_s
        self._running: dict[str, asyncio.Task[None]] = {}
        self._tried: set[str] = set()
        #: Passing failures per order and when the watch may try it again: backoff doubling to 5 minutes,
        #: so an outage that lasts is not hammered every second (the order stays paid and activating).
        self._failures: dict[str, int] = {}
        self._not_before: dict[str, float] = {}
        self._background: set[asyncio.Task[None]] = set()
        self.thefts = TheftFollowUp(activator=activator, orders=orders, bot=bot)
        self.subscriptions = Subscriptions(db, orders.schema_name)
        self.retired = RetiredBots(db, bot)

    async def on_paid(self, order: Order) -> None:
        """The fulfilment seam: activate an order that just became paid (only the writer that moves it)."""
        if await self.orders.start_activation(order.order_id):
            await self.run(order.order_id)

    async def retry(self, order_id: str) -> bool:
        """Activate a failed order again (the buyer sent a fresh token); False if it is not failed."""
        if not await self.orders.start_activation(order_id):
            return False
        self._start(order_id)  # registered before the order watch can see the order activating again
        return True

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _start(self, order_id: str) -> tuple[asyncio.Task[None], bool]:
        """The order's activation task in this process, created (and registered at once) if there is none."""
        task = self._running.get(order_id)
        if task is not None:
            return task, False
        self._tried.add(order_id)
        task = asyncio.get_running_loop().create_task(self._activate(order_id), name=f"activate-{order_id}")
        self._running[order_id] = task
        task.add_done_callback(lambda _: self._running.pop(order_id, None))
        return task, True

    async def run(self, order_id: str) -> None:
        """Activate one order in ``activating`` (at most one run per order in this process)."""
        task, created = self._start(order_id)
        if created:
            done, _ = await asyncio.wait({task}, timeout=self.prepare_after_s)
            if not done:
                await self._tell(order_id, _PREPARING)
        try:
            await task
        except Exception as exc:
            # A passing failure (Vault, Consul or the database unreachable): the order stays activating
            # and the order watch tries again on its next pass.
            failures = self._failures[order_id] = self._failures.get(order_id, 0) + 1
            delay = min(RETRY_MAX_S, 2.0 ** failures)
            self._not_before[order_id] = time.monotonic() + delay
            log.warning("activation interrupted; retrying", order_id=order_id, error=type(exc).__name__,
                        detail=redact(str(exc))[:200], failures=failures, retry_in_s=delay)
            self._tried.discard(order_id)
        else:
            self._failures.pop(order_id, None)
            self._not_before.pop(order_id, None)

    async def _activate(self, order_id: str) -> None:
        order = await self.orders.get(order_id)
        if order is None or order.status is not OrderStatus.ACTIVATING:
            return
        if order.kind == "renewal":
            await self._renew(order)
            return
        try:
            token = await self.tokens.token_for(order)
        except (TelegramBadRequest, TelegramUnauthorizedError, HandoffRefused, KeyError) as exc:
            log.warning("bot token unavailable", order_id=order_id, error=type(exc).__name__)
            await self._fail(order, REASON_TOKEN_UNAVAILABLE)
            return
        assert order.company_name
        assert order.timezone
        paid_at = order.paid_at or datetime.now(UTC)
        try:
            spec = TenantSpec.build(
                tenant_id=order.tenant_id, bot_token=token, admin_telegram_id=order.buyer_telegram_id,
                company_name=order.company_name, timezone=order.timezone, language=order.language,
                paid_until=paid_at + timedelta(days=order.period_days),
            )
            started = asyncio.get_running_loop().time()
            result = await self.activator.activate(spec)
        except (ActivationPending, PoolExhausted):
            log.info("no slot within the wait; the reconciler finishes the tenant", order_id=order_id)
            return
        except (ActivationFailed, InvalidBotToken):
            tenant = await tenancy_store.get(self.db, order.tenant_id)
            if tenant is not None and tenant.status == "failed":
                await self._fail(order, REASON_TOKEN_REJECTED)
            else:
                log.warning("activation not finished; the reconciler retries", order_id=order_id)
            return
        except TenantError as exc:  # the bot was registered to another tenant meanwhile, or a bad spec
            log.warning("activation refused", order_id=order_id, error=str(exc))
            await self._fail(order, REASON_BOT_IN_USE)
            return
        log.info("order activated", order_id=order_id, tenant_id=order.tenant_id, slot=result.slot_index,
                 seconds=round(asyncio.get_running_loop().time() - started, 3))
        await self.orders.mark_active(order_id, result.bot_username)
        await self.send_ready(order_id)

    async def _renew(self, order: Order) -> None:
        """Extend the tenant a paid renewal names (once, whoever else sees it) and tell its owner.

        A running bot is left alone (same slot, same credentials); a tenant released at the end of its
        period goes back to ``activating`` and the reconciler starts it again with its data.
        """
        try:
            extension = await self.subscriptions.apply_renewal(order.order_id)
        except RenewalRefused:
            # Paid for a tenant deleted meanwhile: failed with the reason (once), never retried blindly.
            log.warning("renewal paid for a tenant that is gone", order_id=order.order_id)
            if await self.orders.mark_failed(order.order_id, REASON_TENANT_GONE):
                await self._tell(order.order_id, _RENEW_REFUSED)
            return
        if extension is not None:
            log.info("subscription renewed", order_id=order.order_id, tenant_id=extension.tenant_id,
                     paid_until=extension.paid_until.isoformat(), restarted=extension.restarted)
            if extension.restarted:
                await self._restart(extension.tenant_id)
        await self.send_ready(order.order_id)

    async def _restart(self, tenant_id: str) -> None:
        """Serve a tenant a renewal brought back after release, at once (its data, token and passwords kept)."""
        try:
            result = await self.activator.assign(tenant_id)
        except (ActivationPending, PoolExhausted):
            log.info("no slot within the wait; the reconciler serves the renewed tenant", tenant_id=tenant_id)
        except Exception as exc:  # the reconciler picks an 'activating' tenant up in any case
            log.warning("renewed tenant not started here; the reconciler serves it", tenant_id=tenant_id,
                        error=type(exc).__name__)
        else:
            log.info("renewed tenant serving again", tenant_id=tenant_id, slot=result.slot_index)

    async def _fail(self, order: Order, reason: str) -> None:
        if await self.orders.mark_failed(order.order_id, reason):
            await self._tell(order.order_id, FAILED[reason])

    async def send_ready(self, order_id: str) -> None:
        """Send "ready" for an active order unless some process already did (claimed in the order row)."""
        if not await self.orders.claim_ready_message(order_id):
            return
        order = await self.orders.get(order_id)
        if order is None:
            return
        tr = tr_for(order.language)
        end = order.extended_to or (order.paid_at or datetime.now(UTC)) + timedelta(days=order.period_days)
        until = tr.date(end, order.timezone or "UTC")
        key = _RENEWED if order.kind == "renewal" else _READY
        text = tr(key, username=order.bot_username or "", period=tr.days(order.period_days), until=until,
                  company=order.company_name or "")
        try:
            await self.bot.send_message(order.buyer_telegram_id, text)
        except TelegramForbiddenError:
            log.warning("buyer blocked the sales bot; ready not delivered", order_id=order_id)
        except Exception as exc:
            log.warning("ready message not sent; will retry", order_id=order_id, error=type(exc).__name__)
            await self.orders.unclaim_ready_message(order_id)
            return
        log.info("buyer told ready", order_id=order_id)

    async def _tell(self, order_id: str, key: str) -> None:
        order = await self.orders.get(order_id)
        if order is None:
            return
        tr = tr_for(order.language)
        markup = keyboards.again(tr) if key == FAILED[REASON_BOT_IN_USE] else None
        try:
            await self.bot.send_message(order.buyer_telegram_id, tr(key, username=order.bot_username or ""),
                                        reply_markup=markup)
        except Exception as exc:
            log.warning("could not tell the buyer", order_id=order_id, text=key, error=type(exc).__name__)

    async def watch_once(self) -> None:
        """One pass: finish orders the reconciler activated, recover crashed ones, send "ready", answer thefts."""
        for order in await self.orders.with_status(OrderStatus.ACTIVATING):
            if order.order_id in self._running:
                continue
            if order.kind == "renewal":  # one transaction, then (if it was released) a restart, in the background
                if self._not_before.get(order.order_id, 0.0) <= time.monotonic():
                    self._spawn(self.run(order.order_id))
                continue
            tenant = await tenancy_store.get(self.db, order.tenant_id)
            if tenant is not None and tenant.status == "active":
                if await self.orders.mark_active(order.order_id, tenant.bot_username):
                    log.info("order activated by the reconciler", order_id=order.order_id)
                await self.send_ready(order.order_id)
            elif (
                tenant is not None and tenant.status == "failed"
                # The reconciler fails a tenant whose token never reached Vault; this process has the token.
                and not tenant.failed_for(tenancy_store.FAILED_SECRET_MISSING)
            ):
                rejected = tenant.failed_for(tenancy_store.FAILED_INVALID_TOKEN)
                await self._fail(order, REASON_TOKEN_REJECTED if rejected else REASON_ACTIVATION_FAILED)
            elif order.order_id not in self._tried and self._not_before.get(order.order_id, 0.0) <= time.monotonic():
                log.info("resuming an interrupted activation", order_id=order.order_id)
                self._tried.add(order.order_id)
                self._spawn(self.run(order.order_id))
        rows = await self.db.fetch(
            f"SELECT order_id FROM {self.orders.schema}.orders "
            "WHERE status = 'active' AND ready_notified_at IS NULL ORDER BY activated_at LIMIT 100"
        )
        for row in rows:
            await self.send_ready(row["order_id"])
        await self._revoked_tokens()
        await self.thefts.run_once()  # a stolen handoff: new managed-bot tokens, pasted-token owners told
        await self.retired.run_once()  # a deleted tenant's managed bot: its old token revoked

    async def _revoked_tokens(self) -> None:
        """Tell each buyer whose running bot's pasted token Telegram stopped accepting how to send a new one.

        The owner revoked it in @BotFather (as the theft notice asks them to): the
        slot noticed, the tenant was tried elsewhere and failed for its token. The
        order goes back to failed, where ``/token`` starts it again with a new
        token of the same bot; without this the buyer's bot stayed silent and
        ``/token`` answered that nothing needed a token. A managed bot's token is
        the sales bot's to replace, never the buyer's, so those are left out.
        """
        rows = await self.db.fetch(
            f"SELECT o.order_id FROM {self.orders.schema}.orders o "
            f"JOIN {quote_ident(tenancy_store.SCHEMA)}.tenants t ON t.tenant_id = o.tenant_id "
            "WHERE o.status = 'active' AND o.kind = 'new' AND o.bot_source = 'pasted' AND t.status = 'failed' "
            "AND starts_with(t.last_error, $1) LIMIT 100",
            f"{tenancy_store.FAILED_INVALID_TOKEN}:",
        )
        for row in rows:
            if await self.orders.token_revoked(row["order_id"], REASON_TOKEN_REJECTED):
                log.warning("bot token revoked; buyer asked for a new one", order_id=row["order_id"])
                await self._tell(row["order_id"], _TOKEN_REVOKED)

    async def watch(self, stop: asyncio.Event, interval_s: float) -> None:
        """Run ``watch_once`` every ``interval_s`` until ``stop``; a failing pass is logged and retried."""
        while not stop.is_set():
            try:
                await self.watch_once()
            except Exception:
                log.exception("order watch failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)

    async def drain(self) -> None:
        """Wait for activations in flight (graceful stop; a kill is covered by ``watch`` on the next start)."""
        tasks = [*self._running.values(), *self._background]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
