"""/tenants (ten a page, with buttons) and /tenant <id or @bot>: who is served, until when, and how they are."""

from __future__ import annotations

import math

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.keyboard import InlineKeyboardBuilder

from botpool.i18n import fit
from operator_bot import queries
from operator_bot.callbacks import PageCb
from operator_bot.context import Ops
from operator_bot.texts import OperatorTr

router = Router(name="tenants")

STATUS_MARKS = {"active": "🟢", "activating": "🟡", "failed": "🔴", "released": "⚫"}


async def _page(ops: Ops, tr: OperatorTr, page: int) -> tuple[str, InlineKeyboardMarkup | None]:
    lines, total = await queries.tenants_page(ops.db, page)
    pages = max(1, math.ceil(total / queries.PAGE_SIZE))
    if not lines:
        return (tr("tenants_none") if total == 0 else tr("tenants_page_gone")), None
    text = [tr("tenants_head", page=page + 1, pages=pages, total=total)]
    for t in lines:
        text.append(tr(
            "tenants_line", mark=STATUS_MARKS.get(t.status, "•"), tenant=t.tenant_id,
            bot=f"@{t.bot_username.lstrip('@')}" if t.bot_username else "—", status=t.status,
            until=tr.when(t.paid_until, ops.settings.zone),
        ))
    keyboard = InlineKeyboardBuilder()
    if page > 0:
        keyboard.button(text=tr("btn_prev"), callback_data=PageCb(page=page - 1))
    if page + 1 < pages:
        keyboard.button(text=tr("btn_next"), callback_data=PageCb(page=page + 1))
    return fit("\n".join(text)), keyboard.as_markup() if page > 0 or page + 1 < pages else None


@router.message(Command("tenants"))
async def tenants(message: Message, ops: Ops, tr: OperatorTr) -> None:
    """The first page."""
    text, markup = await _page(ops, tr, 0)
    await message.answer(text, reply_markup=markup)


@router.callback_query(PageCb.filter(F.page >= 0))
async def turn(query: CallbackQuery, callback_data: PageCb, ops: Ops, tr: OperatorTr) -> None:
    """Another page, in place of the one shown."""
    await query.answer()
    text, markup = await _page(ops, tr, min(callback_data.page, 100_000))
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)


@router.message(Command("tenant"))
async def tenant(message: Message, command: CommandObject, ops: Ops, tr: OperatorTr) -> None:
    """One tenant's card; a malformed or unknown reference gets one sentence."""
    ref = queries.parse_ref(command.args or "")
    if ref is None:
        await message.answer(tr("tenant_usage"))
        return
    card = await queries.tenant(ops.db, *ref)
    if card is None:
        await message.answer(tr("tenant_unknown", ref=(command.args or "").strip()[:64]))
        return
    reading = await ops.source.read()
    held = next((c for c in reading.claims if c.tenant_id == card.tenant_id), None)
    slot = reading.slot_at.get(held.index) if held is not None else None
    if slot is None:
        health = tr("health_no_slot")
    elif not slot.healthy:
        health = tr("health_failing", index=slot.index, state=slot.mode.value)
    else:
        health = tr("health_ok", index=slot.index, state=slot.mode.value)
    plan = (
        tr("tenant_plan", tariff=card.tariff, days=card.period_days) if card.tariff and card.period_days
        else "—"
    )
    await message.answer(tr(
        "tenant_card", tenant=card.tenant_id, company=card.company_name,
        bot=f"@{card.bot_username.lstrip('@')}" if card.bot_username else "—", plan=plan,
        until=tr.when(card.paid_until, ops.settings.zone), status=card.status,
        slot=card.slot_index if card.slot_index is not None else "—", health=health,
        error=(card.last_error or "—")[:500],
    ))
