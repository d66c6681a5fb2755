"""``botpool scale --count N``: an operator sets the pool's size by hand, without ever stopping a busy slot.

The override goes through exactly the code the scaler uses (``botpool.pool.scaling``, shared with the
operator bot's ``/scale``):
a growth is a compare-and-set scale request; a shrink fences the slots it
removes, re-checks them and only then scales down. A count below the highest
busy slot index + 1 is refused outright, because Nomad removes the highest
name indexes and would stop that tenant's bot. Every override is recorded
twice: as a structured log line (``manual override``) and in Nomad's scaling
events (``nomad job scaling-events bot-pool``: Meta ``by=operator:<user>``,
``reason=manual``).

The running scaler keeps enforcing its band afterwards: an override below
``MIN_FREE_BOTS`` free slots is refilled at once, and one above
``MAX_FREE_BOTS`` shrinks back after ``SCALE_IN_COOLDOWN``. To hold a size,
change the scaler's settings instead (docs/scaler.md).

Registered in ``botpool_cli/main.py`` with
``app.command(name="scale")(scale.scale_command)``; also runnable on its own
as ``python -m botpool_cli.scale --count N``.
"""

from __future__ import annotations

import asyncio
import getpass
import socket
from pathlib import Path

import typer
from rich.console import Console

from botpool import logs, wiring
from botpool import settings as cfg
from botpool.errors import BotpoolError, ConfigurationError
from botpool.pool.reading import PoolSource
from botpool.pool.scaling import OverrideRefused, OverrideResult, PoolTarget, check_count, override
from botpool_cli.context import RootOption, connect
from scaler import settings as scaler_settings

console = Console()


def operator_name() -> str:
    """Who ran the override, for the log line and Nomad's scaling event."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


async def _run(root: Path, count: int, note: str) -> OverrideResult:
    settings = scaler_settings.load()
    async with connect(root, activator=False) as services, wiring.nomad(cfg.load(cfg.NomadSettings)) as nomad:
        source = PoolSource(services.consul, nomad, job=settings.job, group=settings.group)
        target = PoolTarget(services.consul, nomad, source, instance=f"cli-{operator_name()}")
        return await override(source, target, count, max_total=settings.max_total, operator=operator_name(), note=note)


def scale_command(
    count: int = typer.Option(..., "--count", min=1, help="The number of slots the pool should have."),
    note: str = typer.Option("", "--note", help="Why (kept in the log line and in Nomad's scaling event)."),
    root: Path = RootOption,
) -> None:
    """Set the pool's size by hand (never below the highest busy slot); the scaler keeps its band afterwards."""
    logs.setup("botpool-cli", json=False)
    try:
        result = asyncio.run(_run(root, count, note))
    except ConfigurationError as exc:
        wiring.configuration_exit("botpool", exc)
    except BotpoolError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    if result.changed:
        console.print(f"[green]scaled[/green] the pool from {result.before} to {result.after} slots ({result.detail})")
    else:
        console.print(f"the pool already has {result.before} slots")


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command(name="scale")(scale_command)

__all__ = ["OverrideRefused", "OverrideResult", "app", "check_count", "override", "scale_command"]

if __name__ == "__main__":
    app()
