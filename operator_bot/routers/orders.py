"""/orders: today's orders by status and today's revenue (paid, activating and active orders)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from botpool.pool.model import utcnow
from operator_bot import queries
from operator_bot.context import Ops
from operator_bot.texts import OperatorTr

router = Router(name="orders")

#: Statuses in the order a day's business moves through them.
ORDER = ("draft", "awaiting_payment", "paid", "activating", "active", "failed", "canceled")


@router.message(Command("orders"))
async def orders(message: Message, ops: Ops, tr: OperatorTr) -> None:
    """Counts since midnight in the business zone, and the money in the business currency."""
    now = utcnow()
    day = await queries.today(ops.db, ops.settings.zone, now)
    currency = ops.settings.currency
    lines = [tr("orders_head", day=now.astimezone(ops.settings.zone).strftime("%Y-%m-%d"))]
    if not day.by_status:
        lines.append(tr("orders_none"))
    for status in sorted(day.by_status, key=lambda s: ORDER.index(s) if s in ORDER else len(ORDER)):
        lines.append(tr("orders_line", status=status, n=day.by_status[status]))
    lines.append(tr("orders_revenue", amount=tr.money(day.revenue.get(currency, 0), currency), n=day.paid_count))
    for other, amount in sorted(day.revenue.items()):
        if other != currency:
            lines.append(tr("orders_other_currency", amount=tr.money(amount, other)))
    await message.answer("\n".join(lines))
