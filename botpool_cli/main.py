"""``botpool``: one command for the local stack today, and the pool, tenants and scaling as they land.

Typer (on Click) gives typed options, help text and shell completion; Rich
shows progress on the long steps (a first ``up`` builds Go binaries).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from botpool import logs
from botpool.errors import ActivationPending, BotpoolError, InvalidTenantSpec
from botpool.tenancy import store
from botpool.tenancy.spec import DEFAULT_TIMEZONE, TenantSpec
from botpool_cli import local, scale
from botpool_cli.context import RootOption, connect, fail

app = typer.Typer(
    help="botpool: a warm pool of Telegram booking bots on Nomad, Consul and Vault.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()

app.command(name="scale")(scale.scale_command)
local.register(app)


@app.callback()
def _setup() -> None:
    # Every command logs through botpool.logs (console lines, secrets redacted), like the services.
    logs.setup("botpool-cli", json=False)


tenant_app = typer.Typer(help="Activate, release and list tenants (a salon's bot).", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")


@tenant_app.command("add")
def tenant_add(
    company: str = typer.Option(..., help="The salon's name, shown to its clients (1-128 characters)."),
    admin: int = typer.Option(..., help="Telegram user id of the salon's owner."),
    days: int = typer.Option(30, min=1, max=3660, help="Paid period in days."),
    tenant_id: str = typer.Option("", "--id", help="Tenant id (t_...); generated when omitted."),
    timezone: str = typer.Option(DEFAULT_TIMEZONE, help="The business's IANA time zone."),
    language: str = typer.Option("ru", help="ru or en."),
    root: Path = RootOption,
) -> None:
    """Activate a tenant's bot on a free slot; the token is read from BOTPOOL_BOT_TOKEN or prompted (hidden).

    Exit codes: 0 active; 1 failed; 2 invalid input (nothing stored); 3 still preparing (no slot was free
    within the wait: the tenant is kept and the reconciler activates it, see ``botpool tenant list``).
    """
    import os

    token = os.environ.get("BOTPOOL_BOT_TOKEN") or typer.prompt("bot token (from @BotFather)", hide_input=True)
    try:
        spec = TenantSpec.build(
            tenant_id=tenant_id or None, bot_token=token, admin_telegram_id=admin, company_name=company,
            paid_until=datetime.now(UTC) + timedelta(days=days), timezone=timezone, language=language,
        )
    except InvalidTenantSpec as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from None

    async def run() -> None:
        async with connect(root) as services:
            assert services.activator is not None
            result = await services.activator.activate(spec)
        console.print(
            f"[green]active[/green] {result.tenant_id}: @{result.bot_username} on slot {result.slot_index} "
            f"in {result.seconds:.2f} s"
        )

    try:
        asyncio.run(run())
    except ActivationPending as exc:
        console.print(f"[yellow]still preparing:[/yellow] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(3) from None
    except (BotpoolError, ValueError) as exc:
        fail(exc if isinstance(exc, BotpoolError) else BotpoolError(str(exc)))


@tenant_app.command("release")
def tenant_release(tenant_id: str, root: Path = RootOption) -> None:
    """Stop serving a tenant; its slot returns to the pool and its data is kept."""

    async def run() -> None:
        async with connect(root) as services:
            assert services.activator is not None
            index = await services.activator.release(tenant_id)
        console.print(f"released {tenant_id}" + (f" from slot {index}" if index is not None else " (held no slot)"))

    try:
        asyncio.run(run())
    except (BotpoolError, ValueError) as exc:
        fail(exc if isinstance(exc, BotpoolError) else BotpoolError(str(exc)))


@tenant_app.command("list")
def tenant_list(root: Path = RootOption) -> None:
    """List tenants with their status, bot, slot and paid period."""

    async def run() -> None:
        async with connect(root) as services:
            assert services.activator is not None
            tenants = await store.list_all(services.activator.db)
        table = Table("tenant", "company", "status", "bot", "slot", "paid until")
        for t in tenants:
            table.add_row(t.tenant_id, t.company_name, t.status, f"@{t.bot_username}" if t.bot_username else "-",
                          str(t.slot_index if t.slot_index is not None else "-"), f"{t.paid_until:%Y-%m-%d %H:%M}Z")
        console.print(table)

    try:
        asyncio.run(run())
    except BotpoolError as exc:
        fail(exc)


if __name__ == "__main__":
    app()
