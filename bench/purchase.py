"""Benchmark: N buyers (default 20) buy a bot through the whole flow; payment success -> new bot's answer.

Runs its own fresh stack (free ports), the real pool job with a free slot per buyer, both stand-ins and
the sales bot as a real process (``python -m sales_bot``). Every buyer goes through /start, a tariff,
the one-tap bot, the salon's name and time zone, and "pay"; then all of them pay within one second.
Right after its payment succeeds each buyer writes /start to its new bot, and the time until that bot's
first answer is the latency sold to the customer (it covers the notification, re-fetching the payment,
the order's transitions, Vault, provisioning, the slot's claim and acknowledgement, and the bot's start).

``cpu_s_by_component`` is the CPU time each part of the system spent from the first payment to the last
new bot's answer (``bench.cpu``): where the latency goes when 20 buyers share two cores.

Also counted: orders lost (paid but not active with exactly one "ready" at the end; must be 0) and
double activations (more than one tenant or "ready" for one bot; must be 0). ``calibration`` is this
machine's yardsticks measured at the start of the run (``bench.calibration``) and ``ratios`` the latencies
divided by them, so a slower or busier machine's numbers can be read in proportion.

Last line: one JSON object.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid

import asyncpg

from bench import calibration, cpu
from bench.harness import bench_system
from bench.machine import describe
from botpool import jobspec
from botpool.pool import protocol
from devstack import ports
from devstack.buyer import READY_MARK, Buyer
from devstack.sales import SalesProcess, activator_token
from devstack.standins.telegram.client import TgUser
from devstack.standins.yookassa import runner as yookassa_runner
from devstack.standins.yookassa.client import YooKassaControl

BUYERS = int(os.environ.get("BENCH_BUYERS", "20"))


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (with 20 samples p99 is the worst)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


async def main() -> None:
    calib = calibration.measure()  # before the stack starts: the machine is still quiet
    async with bench_system() as system:
        stack, control = system.stack, system.control
        root = stack.root
        yk_running = await yookassa_runner.start(root / "yookassa.log", max_retry_s=0.5, max_attempts=20)
        yk = YooKassaControl(yk_running.base_url)
        sales_proc: SalesProcess | None = None
        try:
            await jobspec.submit_pool(system.nomad, count=BUYERS + 3, env=system.slot_env)
            await protocol.wait_until(system.consul, lambda s: len(s.free()) >= BUYERS + 3, timeout_s=600)
            sales = await control.create_bot(f"sales_{uuid.uuid4().hex[:6]}_bot", can_manage_bots=True)
            port = ports.pick()
            shop = await yk.create_shop(notification_url=f"http://127.0.0.1:{port}/yookassa/notifications")
            env = dict(os.environ)
            env.update(stack.env())
            env.update({
                "VAULT_TOKEN": activator_token(stack), "SALES_BOT_TOKEN": sales.token,
                "TELEGRAM_API_BASE": control.base_url, "SALES_NOTIFY_PORT": str(port),
                "YOOKASSA_SHOP_ID": shop.shop_id, "YOOKASSA_SECRET_KEY": shop.secret_key,
                "YOOKASSA_API_URL": yk_running.api_url, "YOOKASSA_RETURN_URL": "https://t.me/" + sales.username,
                "YOOKASSA_TRUSTED_NETWORKS": "127.0.0.1/32", "BOTPOOL_LOG_LEVEL": "WARNING",
            })
            sales_proc = SalesProcess(env, root, port)
            await sales_proc.start()

            buyers = [Buyer(control, yk, sales, TgUser(id=8_000_000 + i, first_name=f"B{i}"), timeout=120)
                      for i in range(BUYERS)]
            suffix = uuid.uuid4().hex[:6]

            async def prepare(i: int, buyer: Buyer) -> str:
                await buyer.start()
                created = await buyer.one_tap_bot(f"b{i}_{suffix}_bot", f"Bench {i}")
                await buyer.checkout(await buyer.details(f"Салон {i}"))
                return created.username

            usernames = await asyncio.gather(*(prepare(i, b) for i, b in enumerate(buyers)))

            async def pay_and_talk(buyer: Buyer, username: str) -> float | None:
                paid = await buyer.pay()
                try:
                    answered = await buyer.talk_to(username, timeout=120)
                except TimeoutError:
                    return None
                return answered - paid

            cpu_before = cpu.sample(stack.state.pids.values(), str(root))
            latencies = await asyncio.gather(*(pay_and_talk(b, u) for b, u in zip(buyers, usernames, strict=True)))
            cpu_spent = cpu.spent(cpu_before, cpu.sample(stack.state.pids.values(), str(root)))
            for buyer in buyers:  # let every "ready" arrive before counting
                with contextlib.suppress(TimeoutError):
                    await buyer.ready(timeout=60)
            db = await asyncpg.connect(stack.env()["BOTPOOL_DATABASE_URL"])
            try:
                rows = await db.fetch(
                    "SELECT o.status, o.bot_id, "
                    "(SELECT count(*) FROM control.tenants t WHERE t.bot_id = o.bot_id) AS n "
                    "FROM control.orders o WHERE o.buyer_telegram_id = ANY($1)",
                    [b.user.id for b in buyers],
                )
            finally:
                await db.close()
            readies = [
                sum(READY_MARK in (m.get("text") or "") for m in await control.messages(sales, b.user.id))
                for b in buyers
            ]
        finally:
            if sales_proc is not None:
                sales_proc.stop()
            await yk.aclose()
            await yookassa_runner.stop(yk_running.process)
    ok = [x for x in latencies if x is not None]
    lost = BUYERS - sum(1 for r in rows if r["status"] == "active") + sum(1 for n in readies if n == 0)
    doubles = sum(1 for r in rows if r["n"] > 1) + sum(1 for n in readies if n > 1)
    p99 = round(percentile(ok, 99), 3) if ok else None
    result = {
        "buyers": BUYERS,
        "p50": round(percentile(ok, 50), 3) if ok else None,
        "p95": round(percentile(ok, 95), 3) if ok else None,
        "p99": p99,
        "answered": len(ok), "orders_lost": lost, "double_activations": doubles,
        "targets": {"p99_s": 1.0, "orders_lost": 0, "double_activations": 0},
        "cpu_s_by_component": cpu_spent,
        "calibration": calib,
        "ratios": calibration.ratios({"p99": p99}, calib, {"p99": "cpu_s"}),
        "machine": describe(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
