"""``botpool demo``: buy a bot on the running local stack, the way a salon owner would, and time it.

It plays one buyer through the Telegram and YooKassa stand-ins (``devstack.buyer``): /start, a tariff,
the one-tap bot, the salon's name and time zone, "pay", paying on the checkout page, "ready", and /start
to the new bot. Each step is printed with the time since the start; the number that matters is the
seconds from the payment's success to the new bot's first answer.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import typer
from rich.console import Console

from botpool_cli.context import RootOption
from devstack import sales as devstack_sales
from devstack.buyer import Buyer
from devstack.stack import Stack
from devstack.standins.telegram.client import ControlApiError, TelegramControl, TgUser
from devstack.standins.yookassa.client import YooKassaControl

console = Console()


def demo_command(
    root: Path = RootOption,
    tariff: str = typer.Option("basic", help="Tariff code to buy."),
    timeout: float = typer.Option(60.0, min=1.0, help="Seconds to wait for each answer."),
) -> None:
    """Buy a bot on the running local stack (`make up`) and print each step and the payment-to-answer time."""
    stack = Stack(root)
    ports = stack.state.ports
    if "telegram" not in ports or "yookassa" not in ports or not stack.state.pids:
        console.print("[red]error:[/red] no local stack runs here; start it with `make up`")
        raise typer.Exit(1)
    try:
        seconds = asyncio.run(_demo(f"http://127.0.0.1:{ports['telegram']}",
                                    f"http://127.0.0.1:{ports['yookassa']}", tariff, timeout))
    except (TimeoutError, ControlApiError, AssertionError, OSError) as exc:
        console.print(f"[red]demo stopped:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(f"[green]bought a bot: payment → the new bot's first answer in {seconds:.3f} s[/green]")


async def _demo(telegram: str, yookassa: str, tariff: str, timeout: float) -> float:  # noqa: ASYNC109
    async with TelegramControl(telegram) as tg, YooKassaControl(yookassa) as yk:
        sales = await tg.create_bot(devstack_sales.SALES_BOT_USERNAME)  # the existing one: created by `up`
        if not (await tg.bot_info(sales)).get("polling"):
            await tg.wait_until_polling(sales, timeout=timeout)
        suffix = secrets.token_hex(3)
        user = TgUser(id=5_000_000 + int(suffix, 16) % 1_000_000, first_name="Анна", language_code="ru")
        buyer = Buyer(tg, yk, sales, user, timeout=timeout)
        started = time.monotonic()
        shown = 0

        def show() -> None:
            nonlocal shown
            for what, at in buyer.steps[shown:]:
                console.print(f"  {at - started:7.3f} s  {what}")
            shown = len(buyer.steps)

        console.print(f"buyer {user.first_name} (Telegram id {user.id}) talks to @{sales.username}")
        await buyer.start(tariff)
        show()
        created = await buyer.one_tap_bot(f"anna_{suffix}_bot", "Салон Анны")
        show()
        summary = await buyer.details("Салон Анны 💅")
        show()
        await buyer.checkout(summary)
        show()
        paid = await buyer.pay()
        show()
        ready = asyncio.create_task(buyer.ready())
        answered = await buyer.talk_to(created)
        await ready
        show()
        console.print(f"  new bot: @{created.username}")
        return answered - paid
