"""Benchmark: one active tenant bot, a year of bookings in its schema, clients booking through the stand-in.

(Over 400 lines on purpose: a benchmark is read as one script, set-up, load generator and report together.)

What it measures: simulated clients walk the real booking flow against the
Telegram stand-in (``/book`` -> service -> any master -> day -> time ->
confirm -> ``/my`` -> open -> cancel -> yes), while the bot polls the stand-in
exactly as in production. ``updates_per_s`` is how many updates the bot
finished per second in the measured window (``bot_cpu_ms_per_update``: the bot process's
CPU time over that window per update); ``p99_ms`` is the 99th
percentile of the bot's time per update (a booking step) excluding the
time spent waiting for the stand-in's answers to its Bot API calls (the
stand-in runs on the same machine and is not what is measured). The last
line of output is one JSON object, with ``calibration`` (``bench.calibration``,
measured before any server starts) and the figures' ``ratios`` to it.

Servers: PostgreSQL and Redis from ``BOTPOOL_DATABASE_URL`` /
``BOTPOOL_REDIS_URL`` or ``--pg-dsn`` / ``--redis-url`` (e.g. the stack of
``botpool up``); without them the benchmark starts a throwaway stack of its
own. The stand-in is started here as a child process.
Everything the run creates (schema, role-less pool, Redis keys) is removed.

    uv run python bench/booking.py --users 8 --seconds 20

Each client waits for the bot's answer before its next step (a closed loop),
so the number of clients sets the load: p99 is the bot's own latency at that
load; 32 clients saturate the bot and p99 becomes time spent queued behind
other clients' updates. The bot is built as a slot builds it (uvloop, the JSON
Bot API session, the tenant pool's settings); the numbers and where the time
goes are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import cProfile
import json
import os
import platform
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import redis.asyncio as aioredis
from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Update

from bench import calibration
from bot_runtime.booking import MIGRATIONS, BookingConfig, create_dispatcher
from bot_runtime.booking.domain.availability import local_today
from botpool import botapi, wiring
from botpool.clients.postgres import keep_session
from botpool.db import migrations
from devstack.booking_seed import seed_salon, seed_year
from devstack.stack import Stack
from devstack.standins.telegram import runner
from devstack.standins.telegram.client import BotInfo, ControlApiError, TelegramControl, TgUser

JsonDict = dict[str, Any]

#: Seconds the bot spent waiting for Bot API answers while handling the current update.
_api_wait: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar("api_wait", default=None)


class ApiTimer(BaseRequestMiddleware):
    """Adds the duration of each Bot API request to the current update's tally."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        """Time the request (the stand-in's share of a step)."""
        started = time.perf_counter()
        try:
            return await make_request(bot, method)
        finally:
            tally = _api_wait.get()
            if tally is not None:
                tally[0] += time.perf_counter() - started


@dataclass
class Samples:
    """Per-update timings collected inside the bot process."""

    own_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    finished_at: list[float] = field(default_factory=list)
    user_step_ms: list[float] = field(default_factory=list)
    errors: int = 0


def machine() -> JsonDict:
    """Describe the machine, so numbers from different hosts are comparable."""
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile (0..1) of ``values``, nearest-rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def find(message: JsonDict, prefix: str) -> list[str]:
    """Callback data of the buttons under ``message`` starting with ``prefix``."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["callback_data"] for row in rows for b in row if str(b.get("callback_data", "")).startswith(prefix)]


class Client:
    """A simulated client walking the booking flow through the stand-in's control API."""

    def __init__(self, control: TelegramControl, bot: BotInfo, user_id: int, samples: Samples, rng: random.Random):
        """Remember who this client is and where to record step latencies."""
        self.control = control
        self.bot = bot
        self.user = TgUser(user_id, f"Bench{user_id}")
        self.samples = samples
        self.rng = rng
        self.flow_message: JsonDict = {}

    async def _timed(self, action: Callable[[], Awaitable[Any]]) -> Any:
        started = time.perf_counter()
        result = await action()
        self.samples.user_step_ms.append((time.perf_counter() - started) * 1000)
        return result

    async def say(self, text: str, expect: str) -> JsonDict:
        """Send text and wait for the bot's reply."""

        async def act() -> JsonDict:
            sent = await self.control.send_message(self.bot, self.user, text)
            return await self.control.wait_for_message(
                self.bot, self.user.id, contains=expect, after_message_id=sent["message_id"], timeout=30
            )

        result: JsonDict = await self._timed(act)
        return result

    async def press(self, message: JsonDict, data: str) -> str:
        """Press a button and wait until the bot answers the callback; return the answer text."""

        async def act() -> str:
            try:
                query = await self.control.press_button(self.bot, self.user, message["message_id"], data)
            except ControlApiError as exc:
                raise RuntimeError(f"{data}: {exc}; buttons {find(message, '')}") from exc
            answered = await self.control.wait_for_callback_answer(self.bot, query, timeout=30)
            return str((answered.get("answer") or {}).get("text") or "")

        result: str = await self._timed(act)
        return result

    async def current(self, message: JsonDict, marker: str) -> JsonDict:
        """Read one bot message once its text contains ``marker`` (cheap: the stand-in returns just it)."""
        return await self.control.wait_for_message(
            self.bot, self.user.id, contains=marker, after_message_id=message["message_id"] - 1, timeout=30
        )

    async def cycle(self) -> None:
        """One booking made and cancelled: eleven updates for the bot."""
        flow = await self.say("/book", "Шаг 1 из")
        services = find(flow, "bk:svc:")
        await self.press(flow, self.rng.choice(services))
        await self.press(flow, "bk:next:")
        masters = await self.current(flow, "Шаг 2 из")
        await self.press(masters, self.rng.choice(find(masters, "bk:m:")))
        calendar = await self.current(flow, "Шаг 3 из")
        days = find(calendar, "bk:day:")[2:]  # keep away from the cut-off so the cancel below is allowed
        if not days:
            await self.press(calendar, "bk:x:")
            return
        await self.press(calendar, self.rng.choice(days))
        times = await self.current(flow, "Шаг 4 из")
        slots = find(times, "bk:slot:")
        if not slots:
            await self.press(times, "bk:x:")
            return
        answer = await self.press(times, self.rng.choice(slots))
        if answer:  # "just taken": the list was redrawn; give up this round
            await self.press(times, "bk:x:")
            return
        await self.press(times, "bk:ok:")
        mine = await self.say("/my", "🗂")
        bookings = find(mine, "my:open:")
        if not bookings:
            return
        await self.press(mine, bookings[0])
        card = await self.current(mine, "Статус")
        cancel = find(card, "my:cancel:")
        if not cancel:
            return
        await self.press(card, cancel[0])
        ask = await self.current(mine, "Отменить запись?")
        yes = find(ask, "my:cancel_yes:")
        if yes:
            await self.press(ask, yes[0])


async def generate(args: argparse.Namespace) -> None:
    """Child process: play ``--users`` clients for ``--warmup`` + ``--seconds`` and report as JSON."""
    control = TelegramControl(args.base_url, timeout=60)
    bot = BotInfo(args.bot_id, "", "")
    samples = Samples()
    rng = random.Random(args.seed)
    clients = [Client(control, bot, 100_000 + i, samples, random.Random(rng.random())) for i in range(args.users)]
    for client in clients:
        await client.say("/start", "Bench salon")
    print("ready", flush=True)
    stop_at = time.perf_counter() + args.warmup + args.seconds + 1.0

    async def loop(client: Client) -> int:
        cycles = 0
        while time.perf_counter() < stop_at:
            try:
                await client.cycle()
                cycles += 1
            except (TimeoutError, RuntimeError) as exc:
                samples.errors += 1
                print(f"client {client.user.id}: {type(exc).__name__}: {exc}"[:300], file=sys.stderr)
        return cycles

    cycles = sum(await asyncio.gather(*(loop(c) for c in clients)))
    await control.aclose()
    print(
        json.dumps(
            {
                "cycles": cycles,
                "errors": samples.errors,
                "p99_client_step_ms": round(percentile(samples.user_step_ms, 0.99), 2),
            }
        ),
        flush=True,
    )


async def prepare_schema(dsn: str, schema: str) -> None:
    """Create btree_gist (as the provisioner would) and the tenant schema with its migrations."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public")
        await migrations.apply(conn, schema, MIGRATIONS)
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> JsonDict:
    """Set everything up, drive the load, tear everything down; return the results."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    prefix = f"bench:{schema}:"
    tz = ZoneInfo("Europe/Moscow")
    await prepare_schema(args.pg_dsn, schema)
    pool = await asyncpg.create_pool(  # as a slot opens its tenant's pool (bot_runtime.tenant_bot)
        args.pg_dsn, min_size=4, max_size=args.pool, reset=keep_session,
        server_settings={"search_path": f"{schema}, public"},
    )
    redis = aioredis.Redis.from_url(args.redis_url)
    standin = await runner.start(Path(tempfile.mkdtemp(prefix="botpool-bench-standin-")) / "standin.log",
                                 log_level="WARNING")
    base_url = standin.base_url
    control = TelegramControl(base_url, timeout=30)
    samples = Samples()
    try:
        salon = await seed_salon(pool, weekend=True)
        seeded = await seed_year(pool, salon, until=local_today(datetime.now(UTC), tz), tz=tz, clients=1500)
        await pool.execute("UPDATE settings SET max_active_per_client = 100")
        info = await control.create_bot(f"bench{uuid.uuid4().hex[:8]}_bot")
        config = BookingConfig(tenant_id=schema, company_name="Bench salon", admin_telegram_id=99_999, timezone=tz.key)
        session = botapi.session(base_url)
        session.middleware(ApiTimer())
        bot = Bot(info.token, session=session)
        dp = create_dispatcher(db=pool, redis=redis, key_prefix=prefix, config=config)
        original = dp.feed_update

        async def timed_feed(bot: Bot, update: Update, **kwargs: Any) -> Any:
            tally = [0.0]
            _api_wait.set(tally)
            started = time.perf_counter()
            try:
                return await original(bot, update, **kwargs)
            finally:
                total = time.perf_counter() - started
                samples.total_ms.append(total * 1000)
                samples.own_ms.append((total - tally[0]) * 1000)
                samples.finished_at.append(time.perf_counter())

        dp.feed_update = timed_feed  # type: ignore[method-assign]
        polling = asyncio.create_task(
            dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=10)
        )
        await control.wait_until_polling(info, timeout=15)

        owner = Client(control, info, config.admin_telegram_id, samples, random.Random(0))
        await owner.say("/start", "Bench salon")
        generator = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "generate",
            "--base-url",
            base_url,
            "--bot-id",
            str(info.id),
            "--users",
            str(args.users),
            "--seconds",
            str(args.seconds),
            "--warmup",
            str(args.warmup),
            "--seed",
            str(args.seed),
            stdout=asyncio.subprocess.PIPE,
        )
        assert generator.stdout is not None
        ready = (await asyncio.wait_for(generator.stdout.readline(), 120)).decode().strip()
        if ready != "ready":
            raise RuntimeError(f"load generator failed to start: {ready!r}")
        await asyncio.sleep(args.warmup)
        window_start = time.perf_counter()
        cpu_start = resource.getrusage(resource.RUSAGE_SELF)
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        load_start = os.getloadavg()[0]
        await asyncio.sleep(args.seconds)
        window_end = time.perf_counter()
        cpu_end = resource.getrusage(resource.RUSAGE_SELF)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        report = json.loads((await asyncio.wait_for(generator.stdout.readline(), 120)).decode())
        await generator.wait()
        await dp.stop_polling()
        await polling
        await bot.session.close()
        cycles = report["cycles"]
        samples.errors = report["errors"]
        samples.user_step_ms = [report["p99_client_step_ms"]]
        cpu_seconds = (cpu_end.ru_utime - cpu_start.ru_utime) + (cpu_end.ru_stime - cpu_start.ru_stime)

        in_window = [
            (own, total)
            for own, total, at in zip(samples.own_ms, samples.total_ms, samples.finished_at, strict=True)
            if window_start <= at <= window_end
        ]
        own = [o for o, _ in in_window]
        total = [t for _, t in in_window]
        seconds = window_end - window_start
        return {
            "updates_per_s": round(len(in_window) / seconds, 1),
            "bot_cpu_ms_per_update": round(1000 * cpu_seconds / max(1, len(in_window)), 2),
            "load_average_during_run": round(load_start, 2),
            "p99_ms": round(percentile(own, 0.99), 2),
            "p50_ms": round(statistics.median(own), 2) if own else None,
            "p99_with_bot_api_ms": round(percentile(total, 0.99), 2),
            "p99_client_step_ms": report["p99_client_step_ms"],
            "updates": len(in_window),
            "window_s": round(seconds, 1),
            "users": args.users,
            "cycles": cycles,
            "errors": samples.errors,
            "bookings_in_schema": seeded,
            "machine": machine(),
        }
    finally:
        await control.aclose()
        await runner.stop(standin.process)
        await pool.close()
        conn = await asyncpg.connect(args.pg_dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
        keys = [key async for key in redis.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options; the servers default to the local stack's environment."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pg-dsn", default=os.environ.get("BOTPOOL_DATABASE_URL"), help="superuser DSN")
    parser.add_argument("--redis-url", default=os.environ.get("BOTPOOL_REDIS_URL"))
    parser.add_argument(
        "--users", type=int, default=8,
        help="simulated clients acting at once (8 is the benchmark's load, with targets of 300 updates/s and "
        "p99 <= 50 ms; 32 saturate the bot, and p99 then measures queueing)",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--pool", type=int, default=10, help="asyncpg pool size of the bot")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--profile", help="write a cProfile of the bot process during the window to this file")
    return parser.parse_args(argv)


def main() -> None:
    """Run the benchmark and print a summary, then the JSON result on the last line."""
    if len(sys.argv) > 1 and sys.argv[1] == "generate":
        parser = argparse.ArgumentParser()
        parser.add_argument("generate")
        parser.add_argument("--base-url", required=True)
        parser.add_argument("--bot-id", type=int, required=True)
        parser.add_argument("--users", type=int, required=True)
        parser.add_argument("--seconds", type=float, required=True)
        parser.add_argument("--warmup", type=float, required=True)
        parser.add_argument("--seed", type=int, required=True)
        wiring.run(generate(parser.parse_args()))
        return
    args = parse_args()
    calib = calibration.measure()  # before the stack starts: the machine is still quiet
    stack = None
    if not args.pg_dsn or not args.redis_url:
        # No stack named: run on a throwaway one of our own (free ports), as the other benchmarks do.
        root = Path(tempfile.mkdtemp(prefix="botpool-bench-"))
        os.chmod(root, 0o755)  # noqa: S103 - the postgres user must traverse it
        stack = Stack(root, random_ports=True, tied=True)
        stack.up(timeout=180)
        env = stack.env()
        args.pg_dsn, args.redis_url = env["BOTPOOL_DATABASE_URL"], env["BOTPOOL_REDIS_URL"]
    try:
        result = wiring.run(run(args))  # the loop the slots run on
    finally:
        if stack is not None:
            stack.reset()
    result["targets"] = {"updates_per_s": 300, "p99_ms": 50, "bot_cpu_ms_per_update": 2.5, "errors": 0}
    result["calibration"] = calib
    result["ratios"] = calibration.ratios(result, calib, {"bot_cpu_ms_per_update": "cpu_s", "p99_ms": "cpu_s"})
    print(
        f"{result['updates']} updates in {result['window_s']} s from {result['users']} clients: "
        f"{result['updates_per_s']} updates/s; bot time per update p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms (with Bot API waits {result['p99_with_bot_api_ms']} ms); "
        f"{result['bookings_in_schema']} bookings in the schema; errors {result['errors']}",
        file=sys.stderr,
    )
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
