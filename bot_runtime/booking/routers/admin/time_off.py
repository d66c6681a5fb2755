"""Days off and blocks: typed dates or periods that cancel the bookings inside and notify those clients.

The cancelling happens in the same transaction as the block (see
``BookingService.block``), so no booking survives inside a block.
"""

from __future__ import annotations

from datetime import timedelta

from aiogram import Bot, F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot_runtime.booking.callbacks import AdminAct, AdminCb
from bot_runtime.booking.domain.parsing import ParseError, parse_block
from bot_runtime.booking.filters import HasText
from bot_runtime.booking.keyboards import button, rows
from bot_runtime.booking.routers.admin.common import (
    AdminInput,
    admin_router,
    answer_parse_error,
    cb,
    int_value,
    menu_button,
    prompt,
    send_screen,
)
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.storage.catalog import TimeOff
from bot_runtime.booking.texts import Html, Tr, esc
from bot_runtime.booking.ui import show

router = admin_router("admin-time-off")


def _off_text(tr: Tr, svc: BookingService, item: TimeOff) -> str:
    """Describe a block as the owner typed it: "15.03", "15.03–17.03" or "15.03 14:00-16:00"."""
    start = item.starts_at.astimezone(svc.tz)
    end = item.ends_at.astimezone(svc.tz)
    if start.hour == start.minute == 0 and end.hour == end.minute == 0:
        last = end.date() - timedelta(days=1)
        return tr.day_short(start.date()) + (f"–{tr.day_short(last)}" if last > start.date() else "")
    return f"{tr.day_short(start.date())} {start:%H:%M}-{end:%H:%M}"


async def _days_off_screen(tr: Tr, svc: BookingService, master_id: int) -> tuple[str, InlineKeyboardMarkup] | None:
    master = await svc.master(master_id)
    if master is None:
        return None
    items = [i for i in await svc.upcoming_time_off(master_id) if i.kind == "day_off"]
    text = tr(
        "days_off_title",
        name=master.name,
        items=Html("\n".join("• " + esc(_off_text(tr, svc, i)) for i in items) or esc(tr("none"))),
    )
    lines = [[button(f"✖️ {_off_text(tr, svc, i)}", cb(AdminAct.TIME_OFF_DELETE, f"{i.id}.{master_id}"))] for i in items]
    return text, rows(*lines, [button(tr("btn_back"), cb(AdminAct.MASTER, master_id)), menu_button(tr)])


@router.callback_query(AdminCb.filter(F.act == AdminAct.MASTER_DAYS_OFF))
async def on_days_off(
    callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr, svc: BookingService
) -> None:
    """A master's coming days off; typing a date or period adds one."""
    master_id = int_value(callback_data.v)
    screen = await _days_off_screen(tr, svc, master_id)
    if screen is None:
        await callback.answer(tr("stale_button"), show_alert=True)
        return
    await state.set_state(AdminInput.day_off)
    await state.set_data({"target": master_id})
    await show(callback, *screen)
    await callback.answer()


async def _blocks_screen(tr: Tr, svc: BookingService) -> tuple[str, InlineKeyboardMarkup]:
    items = await svc.upcoming_time_off(None, limit=30)
    masters = await svc.all_masters()
    names = {m.id: m.name for m in masters}
    lines = "\n".join(
        tr("off_line", what=_off_text(tr, svc, i), who=names.get(i.master_id or 0, tr("all_masters"))) for i in items
    )
    text = tr("blocks_title", items=Html(lines or esc(tr("blocks_empty"))))
    deletes = [
        [
            button(
                f"✖️ {_off_text(tr, svc, i)} · {names.get(i.master_id or 0, tr('all_masters'))}"[:60],
                cb(AdminAct.TIME_OFF_DELETE, f"{i.id}.0"),
            )
        ]
        for i in items
    ]
    per_master = [button(f"⛔ {m.name}", cb(AdminAct.BLOCK, m.id)) for m in masters if m.active]
    grid: list[list[InlineKeyboardButton]] = [per_master[i : i + 3] for i in range(0, len(per_master), 3)]
    return text, rows(*deletes, [button(tr("btn_block_all"), cb(AdminAct.BLOCK, 0))], *grid, [menu_button(tr)])


@router.callback_query(AdminCb.filter(F.act == AdminAct.BLOCKS))
async def on_blocks(callback: CallbackQuery, tr: Tr, svc: BookingService) -> None:
    """Coming blocks and days off, with "block" buttons for everyone or one master."""
    await show(callback, *await _blocks_screen(tr, svc))
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == AdminAct.BLOCK))
async def on_block(
    callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr, svc: BookingService
) -> None:
    """Ask what to block."""
    master_id = int_value(callback_data.v)
    master = await svc.master(master_id) if master_id else None
    who = master.name if master else tr("all_masters")
    await prompt(callback, state, tr, AdminInput.block, tr("ask_block", who=who), target=master_id)


@router.message(StateFilter(AdminInput.block), HasText())
@router.message(StateFilter(AdminInput.day_off), HasText())
async def on_block_text(message: Message, state: FSMContext, tr: Tr, svc: BookingService, bot: Bot) -> None:
    """Block the typed dates/times, cancel the bookings inside and notify their clients."""
    try:
        block = parse_block(message.text or "", svc.today())
    except ParseError as exc:
        await answer_parse_error(message, tr, exc)
        return
    if block.last < svc.today():
        await message.answer(tr("err_past"))
        return
    day_off = await state.get_state() == AdminInput.day_off.state
    target = int((await state.get_data()).get("target") or 0)
    user = message.from_user
    cancelled = await svc.block(
        bot, master_id=target or None, block=block, kind="day_off" if day_off else "block", actor=user.id if user else 0
    )
    await state.clear()
    what = tr.day_short(block.first) + (f"–{tr.day_short(block.last)}" if block.last > block.first else "")
    if block.minutes:
        a, b = block.minutes
        what += f" {a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}"
    await message.answer(tr("blocked", what=what, count=cancelled))
    if day_off:
        screen = await _days_off_screen(tr, svc, target)
        if screen is not None:
            await state.set_state(AdminInput.day_off)
            await state.set_data({"target": target})
            await send_screen(message, screen)
    else:
        await send_screen(message, await _blocks_screen(tr, svc))


@router.callback_query(AdminCb.filter(F.act == AdminAct.TIME_OFF_DELETE))
async def on_off_delete(
    callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr, svc: BookingService
) -> None:
    """Remove a block or day off (bookings it cancelled stay cancelled)."""
    item, _, master = callback_data.v.partition(".")
    if not item.isdigit() or not await svc.delete_time_off(int(item)):
        await callback.answer(tr("stale_button"), show_alert=True)
        return
    screen = await _days_off_screen(tr, svc, int(master)) if master.isdigit() and int(master) else None
    if screen is not None:
        await state.set_state(AdminInput.day_off)
        await state.set_data({"target": int(master)})
        await show(callback, *screen)
    else:
        await show(callback, *await _blocks_screen(tr, svc))
    await callback.answer(tr("off_removed"))
