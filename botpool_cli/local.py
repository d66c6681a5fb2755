"""The local stack's commands: ``botpool up``, ``down``, ``reset``, ``clean``, ``status``, ``env`` and ``doctor``.

These are the developer's side of the same CLI and the only operator-facing
module that imports ``devstack`` (the import-linter contract in pyproject.toml
names it as the one exception): they start, stop and inspect the loopback
stack that ``devstack`` owns. Everything else in ``botpool_cli`` works on any
cluster from the environment alone, so it never imports the local-stack code.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from botpool import jobspec, wiring
from botpool import settings as cfg
from botpool.errors import BotpoolError, ConfigurationError
from botpool.pool import protocol
from botpool_cli import demo
from botpool_cli.context import RootOption, fail
from botpool_cli.pool_view import print_pool
from devstack import doctor, orphans
from devstack import monitoring as devstack_monitoring
from devstack import operator as devstack_operator
from devstack import sales as devstack_sales
from devstack.stack import MAX_NODES, Stack

console = Console()


def register(app: typer.Typer) -> None:
    """Add the local-stack commands to the ``botpool`` command."""
    app.command()(up)
    app.command()(down)
    app.command()(reset)
    app.command()(clean)
    app.command()(status)
    app.command(name="env")(env_)
    app.command(name="doctor")(doctor_)
    app.command(name="demo")(demo.demo_command)


def up(
    root: Path = RootOption,
    slots: int = typer.Option(5, min=0, max=100, help="Warm pool slots to start (0: backing services only)."),
    nodes: int | None = typer.Option(
        None, min=1, max=MAX_NODES,
        help="Nomad client nodes on this machine (2: a second node with its own Consul agent; the pool spreads "
        "over both). Remembered; default: what the stack had, 1 for a new stack.",
    ),
    operator_admins: str | None = typer.Option(
        None, envvar=devstack_operator.ADMINS_VARIABLE, show_default=False,
        help="Telegram user ids (comma-separated) the operator bot serves and alerts; "
        f"default: the stand-in's demo operator {devstack_operator.DEMO_OPERATOR_ID}.",
    ),
) -> None:
    """Start the whole system locally: Consul, Vault, Nomad, PostgreSQL, Redis, the Telegram and YooKassa
    stand-ins, the reconciler, the warm pool job, the pool scaler (two instances), the sales bot, the
    operator bot, and Prometheus with Alertmanager (alerting the operator bot) on Nomad; wait until all
    is healthy."""
    stack = Stack(root, system=True)
    try:
        # Refused in one line before anything starts, not in the bot's allocation log later.
        admins = devstack_operator.parse_admins(operator_admins) if operator_admins is not None else None
        with console.status("starting the local stack") as status:
            stack.up(progress=lambda msg: status.update(msg), nodes=nodes)
            if slots:
                status.update(f"starting {slots} warm pool slots on Nomad (each imports aiogram: ~3 s of CPU)")
                asyncio.run(_deploy_pool(stack, slots))
            status.update("starting the operator bot on Nomad")
            operator = asyncio.run(_deploy_operator(stack, admins))
            status.update("starting Prometheus and Alertmanager on Nomad")
            monitoring = asyncio.run(_deploy_monitoring(stack, operator.alertmanager_url))
    except BotpoolError as exc:
        fail(exc)
    console.print("[green]botpool local stack is up[/green]")
    bots = {"Operator bot": f"{operator.base_url} (@{operator.username})"}
    for name, address in {**stack.addresses(), **bots, **monitoring}.items():
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
        # Always: the secrets file carries the sales bot's current Vault token (re-issued by `up` if it had ended).
        sales = await devstack_sales.prepare(stack)
        if await nomad.job(jobspec.SALES.id) is None:
            await jobspec.submit_sales(
                nomad, env=sales.env, env_file=str(sales.env_file), notify_port=sales.notify_port
            )
        await protocol.wait_until(consul, lambda snap: len(snap.slots) >= slots, timeout_s=300)


async def _deploy_operator(stack: Stack, admins: str | None) -> devstack_operator.OperatorDeployment:
    """Submit the operator bot (every time: a changed secrets file restarts it) and wait until it answers."""
    operator = await devstack_operator.prepare(stack, admins=admins)
    async with wiring.nomad(cfg.load(cfg.NomadSettings, stack.env())) as nomad:
        await jobspec.submit_operator(
            nomad, env=operator.env, env_file=str(operator.env_file), secrets_version=operator.secrets_version,
            webhook_port=operator.webhook_port,
        )
    await devstack_operator.wait_healthy(operator)
    return operator


async def _deploy_monitoring(stack: Stack, operator_webhook_url: str) -> dict[str, str]:
    """Submit the monitoring job (every time: an edited monitoring/ file takes effect) and wait until it is ready."""
    async with wiring.nomad(cfg.load(cfg.NomadSettings, stack.env())) as nomad:
        addresses = await devstack_monitoring.deploy(nomad, stack.state, operator_webhook_url=operator_webhook_url)
    await devstack_monitoring.wait_ready(stack.state)
    seen = await devstack_monitoring.wait_targets_up(stack.state)
    return {**addresses, "Prometheus": f"{addresses['Prometheus']} ({seen.summary()})"}


def down(root: Path = RootOption) -> None:
    """Stop the local stack and everything Nomad started; keep its data, so the next `up` finds it all again."""
    stack = Stack(root)
    with console.status("stopping the local stack") as status:
        stack.down(progress=lambda msg: status.update(msg))
    console.print(f"local stack stopped; no process left behind; data kept in {root} (botpool reset deletes it)")


def reset(root: Path = RootOption) -> None:
    """Stop the local stack and delete its data (tenants, pool, secrets): the next `up` starts from nothing."""
    stack = Stack(root)
    with console.status("resetting the local stack") as status:
        stack.reset(progress=lambda msg: status.update(msg))
    console.print(f"local stack stopped and its data deleted ({root})")


TempDirOption = typer.Option(None, help="Where throwaway stacks live (default: the system temp dir).")


def clean(temp_dir: Path | None = TempDirOption) -> None:
    """Remove the throwaway stacks interrupted test or benchmark runs left behind: processes, mounts, folders.

    A stack counts as left behind when the run that started it is gone; a running one is never touched.
    """
    removed = orphans.clean(temp_dir)
    for folder in removed:
        console.print(f"removed orphaned stack {folder}")
    console.print(f"{len(removed)} orphaned stack(s) removed")


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
        monitoring = asyncio.run(devstack_monitoring.health(stack.state))
        if monitoring:
            table = Table("monitoring", "health", title="Prometheus and Alertmanager")
            for name, (ok, detail) in monitoring.items():
                table.add_row(name, f"[green]{escape(detail)}[/green]" if ok else f"[red]{escape(detail)}[/red]")
                healthy &= ok
            console.print(table)
    try:
        asyncio.run(print_pool(root))
    except BotpoolError as exc:
        if isinstance(exc, ConfigurationError):
            wiring.configuration_exit("botpool", exc)
        console.print(f"[yellow]pool not readable:[/yellow] {escape(str(exc))}")
        healthy = False
    if not healthy:
        raise typer.Exit(1)


def env_(root: Path = RootOption) -> None:
    """Print shell exports that point botpool and the HashiCorp CLIs at the local stack."""
    stack = Stack(root)
    if not stack.state.pids:
        console.print("local stack is not running (botpool up)")
        raise typer.Exit(1)
    for key, value in stack.env().items():
        print(f"export {key}='{value}'")


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
