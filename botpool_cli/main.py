"""``botpool``: one command for the local stack today, and the pool, tenants and scaling as they land.

Typer (on Click) gives typed options, help text and shell completion; Rich
shows progress on the long steps (a first ``up`` builds Go binaries).
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from botpool.errors import BotpoolError
from devstack import doctor
from devstack.stack import DEFAULT_ROOT, Stack

app = typer.Typer(
    help="botpool: a warm pool of Telegram booking bots on Nomad, Consul and Vault.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()

RootOption = typer.Option(DEFAULT_ROOT, "--root", help="Folder of the local stack's state.", envvar="BOTPOOL_STATE_DIR")


def _fail(exc: BotpoolError) -> None:
    console.print(f"[red]error:[/red] {exc}")
    raise typer.Exit(1)


@app.command()
def up(root: Path = RootOption) -> None:
    """Start the local stack (Consul, Vault, Nomad, PostgreSQL, Redis) and wait until all are healthy."""
    stack = Stack(root)
    try:
        with console.status("starting the local stack") as status:
            stack.up(progress=lambda msg: status.update(msg))
    except BotpoolError as exc:
        _fail(exc)
    console.print("[green]botpool local stack is up[/green]")
    for name, address in stack.addresses().items():
        console.print(f"  {name:<18} {address}")
    console.print(f"  {'credentials':<18} source {root / 'stack.env'}")


@app.command()
def down(root: Path = RootOption) -> None:
    """Stop the local stack and everything Nomad started; delete its throwaway data."""
    stack = Stack(root)
    with console.status("stopping the local stack") as status:
        stack.down(progress=lambda msg: status.update(msg))
    console.print("local stack stopped; no process left behind")


@app.command()
def status(root: Path = RootOption) -> None:
    """Show each service of the local stack: process, health and version."""
    stack = Stack(root)
    if not stack.state.pids:
        console.print("local stack is not running (botpool up)")
        raise typer.Exit(1)
    table = Table("service", "pid", "health", "version")
    rows = stack.status()
    for row in rows:
        health = "[green]healthy[/green]" if row.healthy else f"[red]{row.problem}[/red]"
        table.add_row(row.name, str(row.pid or "-"), health, row.version)
    console.print(table)
    if not all(r.healthy for r in rows):
        raise typer.Exit(1)


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
