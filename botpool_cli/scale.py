"""``botpool scale --count N``: an operator sets the pool's size by hand, without ever stopping a busy slot.

The override goes through exactly the code the scaler uses (``scaler.target``):
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
from dataclasses import dataclass
from pathlib import Path

import structlog
import typer
from rich.console import Console

from botpool import logs, wiring
from botpool import settings as cfg
from botpool.errors import BotpoolError, ConfigurationError
from botpool_cli.context import RootOption, connect
from scaler import settings as scaler_settings
from scaler.source import PoolReading, PoolSource
from scaler.strategy import Reason, lowest_allowed
from scaler.target import PoolTarget

console = Console()
log = structlog.get_logger("botpool.scale")


class OverrideRefused(BotpoolError):
    """The requested count would stop a busy slot, break the cap, or cannot be applied safely right now."""


@dataclass(frozen=True)
class OverrideResult:
    """What the override did: the count before and after, and whether Nomad was asked at all."""

    before: int
    after: int
    changed: bool
    detail: str


def operator_name() -> str:
    """Who ran the override, for the log line and Nomad's scaling event."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def check_count(count: int, reading: PoolReading, max_total: int) -> None:
    """Refuse a count that would stop a busy slot or leave the allowed range; explain which rule and why."""
    if not reading.job_found:
        raise OverrideRefused("the pool job is not running; nothing to scale")
    highest = reading.highest_busy
    if highest is not None and count < highest + 1:
        raise OverrideRefused(
            f"refusing {count}: slot {highest} holds a tenant and Nomad removes the highest indexes first, "
            f"so the pool cannot go below {highest + 1} without stopping a busy slot"
        )
    low = lowest_allowed(reading)
    if count < low:
        raise OverrideRefused(f"refusing {count}: the group's minimum is {low}")
    limit = min(max_total, reading.scaling_max) if reading.scaling_max is not None else max_total
    if count > limit:
        raise OverrideRefused(
            f"refusing {count}: above the cap of {limit} (MAX_TOTAL_BOTS={max_total}, "
            f"job scaling max={reading.scaling_max})"
        )


async def override(
    source: PoolSource, target: PoolTarget, count: int, *, max_total: int, operator: str, note: str = ""
) -> OverrideResult:
    """Set the group's count to ``count`` safely; raises ``OverrideRefused`` with the reason when it cannot."""
    reading = await source.read()
    check_count(count, reading, max_total)
    before = reading.desired
    detail = f"manual override {before}->{count} by {operator}" + (f": {note}" if note else "")
    log.warning("manual override", operator=operator, before=before, count=count, note=note, **reading.counts())
    if count == before:
        return OverrideResult(before, before, False, "already at that count")
    if count > before:
        outcome = await target.grow(count, reading, reason=Reason.MANUAL, detail=detail, by=f"operator:{operator}")
    else:
        top = [i for i in range(count, before) if i not in set(reading.free_indexes)]
        if top:
            raise OverrideRefused(
                f"refusing {count} for now: slots {top} are not free (starting, draining or claimed); "
                "retry in a few seconds"
            )
        outcome = await target.shrink(count, reading, reason=Reason.MANUAL, detail=detail, by=f"operator:{operator}")
    if not outcome.applied:
        raise OverrideRefused(f"not applied ({outcome.cause}): {outcome.detail}")
    log.warning("manual override applied", operator=operator, before=before, count=count)
    return OverrideResult(before, count, True, detail)


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
