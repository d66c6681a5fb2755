"""A steady load on a running pool, recording what users saw: answers, confirmed bookings, acknowledged activations.

The fault-injection suite and ``bench/faults.py`` keep this running while a
component dies, then ask it what was lost. Each part plays users through the
Telegram stand-in only, as the outside world would:

- a ``Probe`` per watched tenant sends /start about twice a second and keeps the
  moments the bot's greeting (naming the salon) arrived, so the longest silence
  of any bot is read from the record, not guessed;
- a ``Booker`` per watched tenant is a client booking visits (``/book`` ->
  service -> master -> day -> time -> confirm) and keeps every booking the bot
  confirmed, so the database can be checked for each;
- ``Churn`` activates a new tenant every ``interval_s`` and releases the oldest
  beyond a small window, and keeps every activation the activator acknowledged.

Errors inside a step (a timeout while a dependency restarts) are what the load
is for: they end the step, the user tries again, and only what the system
confirmed is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from botpool.tenancy.activation import Activator, TenantSpec
from devstack.standins.telegram.client import BotInfo, TelegramControl, TgUser

JsonDict = dict[str, Any]

#: The text of the booking bot's confirmation ("booked" in bot_runtime/booking/locales/ru).
BOOKED = "Вы записаны"


@dataclass(frozen=True)
class Tenant:
    """A paying tenant as its clients know it: its bot and the salon name its greeting shows."""

    tenant_id: str
    bot: BotInfo
    company: str


def new_spec(tenant_id: str, bot: BotInfo, company: str) -> TenantSpec:
    """A month-long subscription for ``bot`` (what a buyer's payment produces)."""
    return TenantSpec(
        tenant_id=tenant_id, bot_token=SecretStr(bot.token), admin_telegram_id=42, company_name=company,
        paid_until=datetime.now(UTC) + timedelta(days=30),
    )


async def new_tenant(control: TelegramControl, prefix: str) -> Tenant:
    """Create a bot in the stand-in and the tenant that will own it (not yet activated)."""
    tag = uuid.uuid4().hex[:10]
    bot = await control.create_bot(f"{prefix}_{tag}_bot")
    return Tenant(f"t_{tag}", bot, f"Salon {prefix} {tag[:4]}")


async def greets(control: TelegramControl, tenant: Tenant, user: TgUser, *, wait_s: float) -> bool:
    """Send /start as ``user``; True once the tenant's greeting arrives within ``wait_s`` seconds."""
    try:
        sent = await control.send_message(tenant.bot, user, "/start")
        await control.wait_for_message(
            tenant.bot, user.id, contains=tenant.company, after_message_id=sent["message_id"], timeout=wait_s
        )
    except (TimeoutError, OSError, RuntimeError):
        return False
    except Exception:  # the stand-in's control API refused (it never does while it runs)
        return False
    return True


@dataclass
class Probe:
    """Clients greeting one tenant's bot over and over; ``answers`` holds when each greeting arrived.

    The greetings come from ``clients`` users in turn (ids from ``user``'s up), as a salon's clients
    would: the bot allows one user 60 messages a minute (``BOTPOOL_USER_RATE_PER_MIN``), and a single
    user greeting twice a second crosses that within the minute and is then ignored until the
    minute ends, which read as the bot falling silent.
    """

    control: TelegramControl
    tenant: Tenant
    user: TgUser
    pace_s: float = 0.5
    clients: int = 4
    answers: list[float] = field(default_factory=list)

    async def run(self) -> None:
        """Probe until cancelled."""
        users = [TgUser(id=self.user.id + k, first_name=self.user.first_name) for k in range(self.clients)]
        for user in itertools.cycle(users):
            if await greets(self.control, self.tenant, user, wait_s=4):
                self.answers.append(time.monotonic())
                await asyncio.sleep(self.pace_s)  # pacing of the load, not a wait for a state

    def longest_silence(self, since: float, until: float) -> float:
        """The longest time within [since, until] between two greetings (or a window edge and a greeting)."""
        start, end = self.longest_gap(since, until)
        return end - start

    def longest_gap(self, since: float, until: float) -> tuple[float, float]:
        """When that longest silence began and ended (the greetings around it, or a window edge)."""
        inside = [t for t in self.answers if since <= t <= until]
        before = [t for t in self.answers if t < since]
        points = [before[-1] if before else since, *inside, until]
        return max(itertools.pairwise(points), key=lambda gap: gap[1] - gap[0])

    def describe_silence(self, since: float, until: float) -> str:
        """The tenant's longest silence and when it was, in seconds after ``since`` ("4.1 s (+0.6 to +4.7)")."""
        start, end = self.longest_gap(since, until)
        return f"{self.tenant.tenant_id} {end - start:.1f} s ({start - since:+.1f} to {end - since:+.1f})"

    def first_answer_after(self, moment: float) -> float | None:
        """When the first greeting after ``moment`` arrived, if any yet."""
        return next((t for t in self.answers if t > moment), None)


def buttons(message: JsonDict, prefix: str) -> list[str]:
    """Callback data of the buttons under ``message`` starting with ``prefix``."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["callback_data"] for row in rows for b in row if str(b.get("callback_data", "")).startswith(prefix)]


@dataclass
class Booker:
    """Clients of one tenant booking visits one after another; ``booked_by`` holds who got a confirmation.

    Each booking is made by a new client (ids from ``first_user_id`` up), because the bot limits how many
    upcoming visits one client may hold; so every confirmed booking stays confirmed and can be looked up.
    """

    control: TelegramControl
    tenant: Tenant
    first_user_id: int
    rng: random.Random = field(default_factory=lambda: random.Random(7))  # noqa: S311 - picks a service
    booked_by: list[int] = field(default_factory=list)
    failed_steps: int = 0
    last_error: str = ""
    user: TgUser = field(init=False)

    def __post_init__(self) -> None:
        self.user = TgUser(id=self.first_user_id, first_name="Client")

    @property
    def confirmed(self) -> int:
        """Bookings the bot confirmed so far."""
        return len(self.booked_by)

    async def _press(self, message: JsonDict, data: str) -> str:
        query = await self.control.press_button(self.tenant.bot, self.user, message["message_id"], data)
        answered = await self.control.wait_for_callback_answer(self.tenant.bot, query, timeout=8)
        return str((answered.get("answer") or {}).get("text") or "")

    async def _current(self, message: JsonDict, marker: str) -> JsonDict:
        return await self.control.wait_for_message(
            self.tenant.bot, self.user.id, contains=marker, after_message_id=message["message_id"] - 1, timeout=8
        )

    async def book_once(self) -> bool:
        """Walk the booking flow once; True if the bot confirmed a booking."""
        sent = await self.control.send_message(self.tenant.bot, self.user, "/book")
        flow = await self.control.wait_for_message(
            self.tenant.bot, self.user.id, contains="Шаг 1 из", after_message_id=sent["message_id"], timeout=8
        )
        await self._press(flow, self.rng.choice(buttons(flow, "bk:svc:")))
        await self._press(flow, "bk:next:")
        masters = await self._current(flow, "Шаг 2 из")
        await self._press(masters, self.rng.choice(buttons(masters, "bk:m:")))
        calendar = await self._current(flow, "Шаг 3 из")
        days = buttons(calendar, "bk:day:")
        if not days:
            return False
        await self._press(calendar, self.rng.choice(days))
        times = await self._current(flow, "Шаг 4 из")
        slots = buttons(times, "bk:slot:")
        if not slots or await self._press(times, self.rng.choice(slots)):
            return False  # nothing free, or "just taken": try again from the start
        await self._press(times, "bk:ok:")
        await self._current(flow, BOOKED)
        return True

    async def run(self) -> None:
        """Book until cancelled; a step that fails (a dependency restarting) starts the flow again."""
        while True:
            try:
                if await self.book_once():
                    self.booked_by.append(self.user.id)
                    self.user = TgUser(id=self.user.id + 1, first_name="Client")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # timeouts, a vanished button: the client starts over, as a person would
                self.failed_steps += 1
                self.last_error = repr(exc)[:200]
            await asyncio.sleep(1.0)  # pacing of the load


@dataclass
class Churn:
    """New tenants activated every ``interval_s``; the newest ``window`` stay active, older ones are released."""

    control: TelegramControl
    activator: Activator
    interval_s: float = 1.0
    window: int = 3
    #: Acknowledged tenants still owed service: the newest ``window`` (more while releases are paused).
    held: deque[Tenant] = field(default_factory=deque)
    #: Tenants whose release was asked for: no longer owed service, asked again until a call succeeds
    #: (a call that failed half-way, say after the database recorded it, still released the tenant).
    releasing: deque[Tenant] = field(default_factory=deque)
    acknowledged: int = 0
    refused: int = 0
    #: Every tenant this churn tried to activate, to release at the end whatever became of it.
    tried: list[str] = field(default_factory=list)
    #: What happened to each tenant and when (monotonic seconds), for a report to explain a loss.
    history: dict[str, list[str]] = field(default_factory=dict)
    #: Held by ``releases_paused``: no tenant leaves ``held`` meanwhile, so a check of them is not raced.
    _releases: asyncio.Lock = field(default_factory=asyncio.Lock)

    def _note(self, tenant_id: str, event: str) -> None:
        self.history.setdefault(tenant_id, []).append(f"{time.monotonic():.1f} {event}")

    @contextlib.asynccontextmanager
    async def releases_paused(self) -> AsyncIterator[list[Tenant]]:
        """Yield the tenants owed service now, and release none of them until the block ends.

        A check that greets each held tenant takes a while; a release meanwhile (the churn goes on
        activating) would stop a bot the check is about to count as lost. Activations go on.
        """
        async with self._releases:
            yield list(self.held)

    async def _one(self) -> None:
        tenant = await new_tenant(self.control, "churn")
        self.tried.append(tenant.tenant_id)
        self._note(tenant.tenant_id, "activating")
        try:
            result = await self.activator.activate(new_spec(tenant.tenant_id, tenant.bot, tenant.company))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # refused while a dependency is down: not acknowledged, so nothing was promised
            self._note(tenant.tenant_id, f"refused: {type(exc).__name__}: {exc}"[:200])
            self.refused += 1
            return
        self._note(tenant.tenant_id, f"acknowledged on slot {result.slot_index}")
        self.acknowledged += 1
        self.held.append(tenant)
        if self._releases.locked():
            return  # a check is counting the held tenants: release next time
        async with self._releases:
            while len(self.held) > self.window:
                self.releasing.append(self.held.popleft())
            while self.releasing:
                oldest = self.releasing[0]
                self._note(oldest.tenant_id, "releasing")
                try:
                    await self.activator.release(oldest.tenant_id)
                except Exception as exc:  # a dependency is down: ask again next time
                    self._note(oldest.tenant_id, f"release failed: {type(exc).__name__}: {exc}"[:200])
                    return
                self._note(oldest.tenant_id, "released")
                self.releasing.popleft()

    async def run(self) -> None:
        """Activate until cancelled, one at a time, starting a new one every ``interval_s``."""
        while True:
            started = time.monotonic()
            with contextlib.suppress(Exception):
                await self._one()
            await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))

    async def release_all(self) -> None:
        """Release every tenant this churn created (whatever state it reached)."""
        for tenant_id in self.tried:
            with contextlib.suppress(Exception):
                await self.activator.release(tenant_id)
        self.held.clear()
        self.releasing.clear()
