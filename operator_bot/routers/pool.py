"""/pool: the seeds' pool status ("🏊 СТАТУС ПУЛА БОТОВ", free and busy of the total), then every slot."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from botpool.i18n import Html, fit
from operator_bot import poolview
from operator_bot.context import Ops
from operator_bot.texts import OperatorTr

router = Router(name="pool")

#: A mark per slot state, so the list reads at a glance.
MARKS = {"waiting": "⚪", "active": "🟢", "activating": "🟡", "draining": "🟠", "fenced": "🟠", "starting": "⏳",
         "gone": "⚫"}


@router.message(Command("pool"))
async def pool(message: Message, ops: Ops, tr: OperatorTr) -> None:
    """One reading of Consul and Nomad, as the scaler reads it, in the seeds' format."""
    reading = await ops.source.read()
    if not reading.job_found:
        await message.answer(tr("pool_no_job", job=ops.settings.job))
        return
    c = poolview.counts(reading)
    lines = [tr(
        "pool_status", free=c.free, busy=c.busy, total=c.total, active=c.active, pending=c.pending,
        activating=c.activating, draining=c.draining, leaving=c.leaving, starting=c.starting,
        utilisation=tr.percent(c.utilisation),
    ), "", tr("pool_slots")]
    for line in poolview.slot_lines(reading):
        who = " ".join(
            part for part in (
                tr("pool_who", tenant=line.tenant_id) if line.tenant_id else "",
                tr("pool_bot", bot=line.bot_username) if line.bot_username else "",
                tr("pool_unhealthy") if line.state not in ("starting", "gone") and not line.healthy else "",
                tr("pool_leaving") if line.leaving else "",
            ) if part
        )
        lines.append(tr("pool_slot", mark=MARKS.get(line.state, "•"), index=line.index, state=line.state,
                        who=Html(who)))
    await message.answer(fit("\n".join(lines)))
