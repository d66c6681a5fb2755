"""The pool as an operator reads it: one row per slot (state, tenant, bot, uptime, health) and the totals.

Shared by ``botpool status`` on any cluster; kept apart from the local-stack
commands so reading the pool never needs the local stack's code.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from botpool.pool import keys, protocol
from botpool.pool.model import SlotMode
from botpool_cli.context import connect

console = Console()


async def print_pool(root: Path) -> None:
    """Print every slot of the pool and the free/active/total counts, read from Consul."""
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
                      age(uptime), f"[{colour}]{health}[/{colour}]")
    console.print(table)
    console.print(f"free {len(snap.free())} · active {len(snap.active())} · total {len(snap.slots)}")


def age(delta: timedelta) -> str:
    """Format an uptime compactly ("1h05m", "3m07s") so the table stays one line per slot."""
    seconds = int(delta.total_seconds())
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"
