"""/scale <n>: the pool's size by hand, after a confirmation button, through the same safe override as
``botpool scale`` (``botpool.pool.scaling.override``): never below the highest busy slot, never above the cap.

The count is checked twice: when asked (so a refused count gets its sentence at once and no button) and
again when confirmed, on a fresh reading, because the pool may have changed in between.
"""

from __future__ import annotations

import re

import structlog
from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from botpool.i18n import N_
from botpool.pool import scaling
from operator_bot.callbacks import ScaleCb
from operator_bot.context import Ops
from operator_bot.texts import OperatorTr

router = Router(name="scale")
log = structlog.get_logger("operator_bot")

#: A count as an operator types it: a whole number, perhaps signed (a sign gets its own sentence).
COUNT = re.compile(r"^([+-]?)(\d{1,6})$")

#: The sentence for each rule ``scaling.check_count`` and ``scaling.override`` refuse by.
REFUSALS = {
    "no_job": N_("scale_no_job"), "below_busy": N_("scale_below_busy"), "below_min": N_("scale_below_min"),
    "above_cap": N_("scale_above_cap"), "not_free": N_("scale_not_free"), "not_applied": N_("scale_not_applied"),
}


def _refusal(tr: OperatorTr, exc: scaling.OverrideRefused, count: int) -> str:
    return tr(REFUSALS.get(exc.code, REFUSALS["not_applied"]), count=count, **{"cause": "", **exc.values})


@router.message(Command("scale"))
async def scale(message: Message, command: CommandObject, ops: Ops, tr: OperatorTr) -> None:
    """Check the count and offer a confirmation button to the admin who asked."""
    assert message.from_user is not None
    match = COUNT.match((command.args or "").strip())
    if match is None:
        await message.answer(tr("scale_usage"))
        return
    count = int(match.group(2))
    if match.group(1) == "-" or count == 0:
        await message.answer(tr("scale_not_positive"))
        return
    reading = await ops.source.read()
    try:
        scaling.check_count(count, reading, ops.settings.max_total)
    except scaling.OverrideRefused as exc:
        await message.answer(_refusal(tr, exc, count))
        return
    if count == reading.desired:
        await message.answer(tr("scale_same", count=count))
        return
    nonce = ops.confirmations.open(message.from_user.id, count)
    keyboard = InlineKeyboardBuilder()
    keyboard.button(text=tr("btn_scale_yes", count=count), callback_data=ScaleCb(nonce=nonce, ok=True))
    keyboard.button(text=tr("btn_scale_no"), callback_data=ScaleCb(nonce=nonce, ok=False))
    await message.answer(tr("scale_confirm", before=reading.desired, count=count, busy=reading.busy,
                            free=reading.free), reply_markup=keyboard.as_markup())


@router.callback_query(ScaleCb.filter())
async def confirm(query: CallbackQuery, callback_data: ScaleCb, ops: Ops, tr: OperatorTr) -> None:
    """Apply (or drop) the request, once, and only for the admin who made it."""
    pending = ops.confirmations.take(callback_data.nonce, query.from_user.id)
    if pending is None:
        await query.answer(tr("scale_stale"), show_alert=True)
        return
    await query.answer()
    message = query.message if isinstance(query.message, Message) else None
    if message is not None:
        await message.edit_reply_markup(reply_markup=None)
    send = message.answer if message is not None else None
    if not callback_data.ok:
        if send is not None:
            await send(tr("scale_canceled"))
        return
    try:
        result = await scaling.override(
            ops.source, ops.target, pending.count, max_total=ops.settings.max_total,
            operator=f"telegram:{query.from_user.id}", note="operator bot /scale",
        )
    except scaling.OverrideRefused as exc:
        text = _refusal(tr, exc, pending.count)
    else:
        text = tr("scale_done", before=result.before, count=result.after) if result.changed else tr(
            "scale_same", count=result.after)
    if send is not None:
        await send(text)
