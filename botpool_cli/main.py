"""``botpool``: one command for the local stack today, and the pool, tenants and scaling as they land.

Typer (on Click) gives typed options, help text and shell completion; Rich
shows progress on the long steps (a first ``up`` builds Go binaries).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from botpool import jobspec, logs, wiring
from botpool import settings as cfg
from botpool.errors import ActivationPending, BotpoolError, ConfigurationError, InvalidTenantSpec
from botpool.pool import keys, protocol
from botpool.pool.model import SlotMode
from botpool.tenancy import store
from botpool.tenancy.spec import DEFAULT_TIMEZONE, TenantSpec
from botpool_cli import scale
from botpool_cli.context import connect
from devstack import doctor
from devstack.stack import DEFAULT_ROOT, Stack

app = typer.Typer(
    help="botpool: a warm pool of Telegram booking bots on Nomad, Consul and Vault.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()

RootOption = typer.Option(DEFAULT_ROOT, "--root", help="Folder of the local stack's state.", envvar="BOTPOOL_STATE_DIR")

app.command(name="scale")(scale.scale_command)


@app.callback()
def _setup() -> None:
    # Every command logs through botpool.logs (console lines, secrets redacted), like the services.
    logs.setup("botpool-cli", json=False)


def _fail(exc: BotpoolError) -> NoReturn:
    """One line for the operator: settings errors exit 2 like every service's, other refusals exit 1."""
    if isinstance(exc, ConfigurationError):
        wiring.configuration_exit("botpool", exc)
    console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
    raise typer.Exit(1)


@app.command()
def up(
    root: Path = RootOption,
    slots: int = typer.Option(5, min=0, max=100, help="Warm pool slots to start (0: backing services only)."),
) -> None:
    """Start the whole system locally: Consul, Vault, Nomad, PostgreSQL, Redis, the Telegram stand-in,
    the reconciler, the warm pool job and the pool scaler (two instances) on Nomad; wait until all is healthy."""
    stack = Stack(root, system=True)
    try:
        with console.status("starting the local stack") as status:
            stack.up(progress=lambda msg: status.update(msg))
            if slots:
                status.update(f"starting {slots} warm pool slots on Nomad (each imports aiogram: ~3 s of CPU)")
                asyncio.run(_deploy_pool(stack, slots))
    except BotpoolError as exc:
        _fail(exc)
    console.print("[green]botpool local stack is up[/green]")
    for name, address in stack.addresses().items():
        console.print(f"  {name:<18} {address}")
    console.print(f"  {'credentials':<18} source {root / 'stack.env'}")


async def _deploy_pool(stack: Stack, slots: int) -> None:
    env = stack.env()
    async with (
        wiring.nomad(cfg.load(cfg.NomadSettings, env)) as nomad,
        wiring.consul(cfg.load(cfg.ConsulSettings, env)) as consul,
    ):
        if await nomad.job(jobspec.POOL.id) is None:
            slot_env = stack.slot_env(f"http://127.0.0.1:{stack.state.ports['telegram']}")
            await jobspec.submit_pool(nomad, count=slots, env=slot_env)
        if await nomad.job(jobspec.SCALER.id) is None:
            # Two instances, as in production: one leads, the other stands by.
            await jobspec.submit_scaler(
                nomad, env={"CONSUL_HTTP_ADDR": env["CONSUL_HTTP_ADDR"], "NOMAD_ADDR": env["NOMAD_ADDR"]}
            )
        await protocol.wait_until(consul, lambda snap: len(snap.slots) >= slots, timeout_s=300)


@app.command()
def down(root: Path = RootOption) -> None:
    """Stop the local stack and everything Nomad started; delete its throwaway data."""
    stack = Stack(root)
    with console.status("stopping the local stack") as status:
        stack.down(progress=lambda msg: status.update(msg))
    console.print("local stack stopped; no process left behind")


@app.command()
def status(root: Path = RootOption) -> None:
    """Show the local stack's services (if one runs here) and every pool slot: state, tenant, uptime, health."""
    stack = Stack(root)
    healthy = True
    if stack.state.pids:
        table = Table("service", "pid", "health", "version", title="local stack")
        for row in stack.status():
            health = "[green]healthy[/green]" if row.healthy else f"[red]{row.problem}[/red]"
            table.add_row(row.name, str(row.pid or "-"), health, row.version)
            healthy &= row.healthy
        console.print(table)
    try:
        asyncio.run(_pool_table(root))
    except BotpoolError as exc:
        if isinstance(exc, ConfigurationError):
            wiring.configuration_exit("botpool", exc)
        console.print(f"[yellow]pool not readable:[/yellow] {exc}")
        healthy = False
    if not healthy:
        raise typer.Exit(1)


async def _pool_table(root: Path) -> None:
    async with connect(root, activator=False) as services:
        snap = await protocol.snapshot(services.consul)
        _, checks = await services.consul.health.checks(keys.SLOT_SERVICE)
    by_alloc = {c["ServiceID"]: c for c in checks}
    now = datetime.now(UTC)
    table = Table("slot", "state", "tenant", "bot", "uptime", "health", title="pool")
    indexes = sorted(set(snap.slots) | set(snap.claims))
    for index in indexes:
        slot = snap.slots.get(index)
        claim = snap.claims.get(index)
        if slot is None:
            table.add_row(str(index), "[red]gone[/red]", claim.tenant_id or "-" if claim else "-", "-", "-", "-")
            continue
        state = slot.mode.value
        if slot.mode is SlotMode.WAITING and claim is not None:
            state = "claimed"
        uptime = now - (slot.activated_at or slot.started_at)
        check = next((c for sid, c in by_alloc.items() if slot.alloc_id in sid), None)
        health = check["Status"] if check else "unknown"
        colour = "green" if health == "passing" else "red"
        tenant = slot.tenant_id or (claim.tenant_id if claim else None) or "-"
        table.add_row(str(index), state, tenant, f"@{slot.bot_username}" if slot.bot_username else "-",
                      _age(uptime), f"[{colour}]{health}[/{colour}]")
    console.print(table)
    console.print(f"free {len(snap.free())} · active {len(snap.active())} · total {len(snap.slots)}")


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


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
        _fail(exc if isinstance(exc, BotpoolError) else BotpoolError(str(exc)))


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
        _fail(exc if isinstance(exc, BotpoolError) else BotpoolError(str(exc)))


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
        _fail(exc)


@app.command(name="env")
def env_(root: Path = RootOption) -> None:
    """Print shell exports that point botpool and the HashiCorp CLIs at the local stack."""
    stack = Stack(root)
    if not stack.state.pids:
        console.print("local stack is not running (botpool up)")
        raise typer.Exit(1)
    for key, value in stack.env().items():
        print(f"export {key}='{value}'")


@app.command(name="doctor")
def doctor_(root: Path = RootOption) -> None:
    """Check every dependency and say what is wrong and how to fix it."""
    failed = 0
    for finding in doctor.check_all(Stack(root)):
        mark = "[green]ok[/green]  " if finding.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {finding.check:<22} {finding.detail}")
        if not finding.ok:
            failed += 1
            console.print(f"       fix: {finding.fix}")
    if failed:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
