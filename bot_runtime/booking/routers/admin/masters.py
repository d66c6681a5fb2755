"""Masters: list, add, rename, activate, link services, and weekly hours and breaks.

Why typed hours: "Пн-Пт 10:00-19:00" is one message on a phone; the parser
in ``domain.parsing`` accepts Russian and English and answers a wrong format
with an example.
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot_runtime.booking.callbacks import AdminAct, AdminCb
from bot_runtime.booking.domain.parsing import ParseError, parse_name, parse_weekly
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
from bot_runtime.booking.texts import Html, Tr
from bot_runtime.booking.ui import show, show_or_stale

router = admin_router("admin-masters")


def _ranges(tr: Tr, ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in ranges)


async def masters_screen(tr: Tr, svc: BookingService) -> tuple[str, InlineKeyboardMarkup]:
    """All masters, inactive ones marked, plus "add"."""
    masters = await svc.all_masters()
    lines = [[button(("" if m.active else "❌ ") + m.name, cb(AdminAct.MASTER, m.id))] for m in masters]
    text = tr("masters_title") + ("\n" + tr("masters_empty") if not masters else "")
    return text, rows(*lines, [button(tr("btn_add"), cb(AdminAct.MASTER_ADD)), menu_button(tr)])


async def master_screen(tr: Tr, svc: BookingService, master_id: int) -> tuple[str, InlineKeyboardMarkup] | None:
    """A master's services, weekly hours and breaks, with edit buttons."""
    master = await svc.master(master_id)
    if master is None:
        return None
    service_ids = await svc.master_service_ids(master_id)
    services = [s.name for s in await svc.all_services() if s.id in service_ids]
    week = await svc.master_week(master_id)
    names = tr.weekday_names()
    hours = "\n".join(
        f"{names[d]}: " + (_ranges(tr, [week.hours[d]]) if d in week.hours else tr("day_off_word")) for d in range(7)
    )
    breaks = "\n".join(f"{names[d]}: {_ranges(tr, week.breaks[d])}" for d in range(7) if week.breaks.get(d))
    text = tr(
        "master_card",
        name=master.name,
        inactive=Html(tr("master_inactive")) if not master.active else Html(""),
        services=", ".join(services) or tr("none"),
        hours=hours,
        breaks=breaks or tr("none"),
    )
    markup = rows(
        [
            button(tr("btn_services"), cb(AdminAct.MASTER_SERVICES, master_id)),
            button(tr("btn_hours"), cb(AdminAct.MASTER_HOURS, master_id)),
        ],
        [
            button(tr("btn_breaks"), cb(AdminAct.MASTER_BREAKS, master_id)),
            button(tr("btn_days_off"), cb(AdminAct.MASTER_DAYS_OFF, master_id)),
        ],
        [
            button(tr("btn_rename"), cb(AdminAct.MASTER_RENAME, master_id)),
            button(tr("btn_deactivate" if master.active else "btn_activate"), cb(AdminAct.MASTER_TOGGLE, master_id)),
        ],
        [button(tr("btn_back"), cb(AdminAct.MASTERS)), menu_button(tr)],
    )
    return text, markup


async def _send_master(message: Message, tr: Tr, svc: BookingService, master_id: int) -> None:
    screen = await master_screen(tr, svc, master_id)
    await send_screen(message, screen)


@router.callback_query(AdminCb.filter(F.act == AdminAct.MASTERS))
async def on_masters(callback: CallbackQuery, tr: Tr, svc: BookingService) -> None:
    """Show the masters."""
    await show(callback, *await masters_screen(tr, svc))
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == AdminAct.MASTER))
async def on_master(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Open a master."""
    await show_or_stale(callback, tr, await master_screen(tr, svc, int_value(callback_data.v)))


@router.callback_query(AdminCb.filter(F.act == AdminAct.MASTER_ADD))
async def on_master_add(callback: CallbackQuery, state: FSMContext, tr: Tr) -> None:
    """Ask for the new master's name."""
    await prompt(callback, state, tr, AdminInput.master_new, tr("ask_master"))


@router.message(StateFilter(AdminInput.master_new), HasText())
async def on_master_new(message: Message, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Create the master and open their card to set services and hours."""
    try:
        name = parse_name(message.text or "")
    except ParseError as exc:
        await answer_parse_error(message, tr, exc)
        return
    master_id = await svc.add_master(name)
    await state.clear()
    await message.answer(tr("master_added", name=name))
    await _send_master(message, tr, svc, master_id)


@router.callback_query(AdminCb.filter(F.act == AdminAct.MASTER_RENAME))
async def on_master_rename(callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr) -> None:
    """Ask for a master's new name."""
    await prompt(callback, state, tr, AdminInput.master_rename, tr("ask_name"), target=int_value(callback_data.v))


@router.message(StateFilter(AdminInput.master_rename), HasText())
async def on_master_renamed(message: Message, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Rename a master."""
    try:
        name = parse_name(message.text or "")
    except ParseError as exc:
        await answer_parse_error(message, tr, exc)
        return
    target = int((await state.get_data())["target"])
    await svc.update_master(target, name=name)
    await state.clear()
    await message.answer(tr("service_saved"))
    await _send_master(message, tr, svc, target)


@router.callback_query(AdminCb.filter(F.act == AdminAct.MASTER_TOGGLE))
async def on_master_toggle(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Stop or resume taking bookings for a master (existing bookings stay)."""
    master = await svc.master(int_value(callback_data.v))
    if master is None:
        await callback.answer(tr("stale_button"), show_alert=True)
        return
    await svc.update_master(master.id, active=not master.active)
    screen = await master_screen(tr, svc, master.id)
    assert screen is not None
    await show(callback, *screen)
    await callback.answer(tr("service_saved"))


async def _master_services_screen(
    tr: Tr, svc: BookingService, master_id: int
) -> tuple[str, InlineKeyboardMarkup] | None:
    master = await svc.master(master_id)
    if master is None:
        return None
    linked = await svc.master_service_ids(master_id)
    lines = [
        [button(("✅ " if s.id in linked else "▫️ ") + s.name, cb(AdminAct.MASTER_SERVICE, f"{master_id}.{s.id}"))]
        for s in await svc.all_services()
    ]
    return tr("master_services", name=master.name), rows(
        *lines, [button(tr("btn_back"), cb(AdminAct.MASTER, master_id))]
    )


@router.callback_query(AdminCb.filter(F.act == AdminAct.MASTER_SERVICES))
async def on_master_services(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Tick the services a master performs."""
    await show_or_stale(callback, tr, await _master_services_screen(tr, svc, int_value(callback_data.v)))


@router.callback_query(AdminCb.filter(F.act == AdminAct.MASTER_SERVICE))
async def on_master_service(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Link or unlink one service."""
    master, _, service = callback_data.v.partition(".")
    if (
        not (master.isdigit() and service.isdigit())
        or await svc.master(int(master)) is None
        or await svc.service(int(service)) is None
    ):
        await callback.answer(tr("stale_button"), show_alert=True)
        return
    await svc.toggle_master_service(int(master), int(service))
    screen = await _master_services_screen(tr, svc, int(master))
    assert screen is not None
    await show(callback, *screen)
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act.in_({AdminAct.MASTER_HOURS, AdminAct.MASTER_BREAKS})))
async def on_master_hours(callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr) -> None:
    """Ask for weekly hours or breaks."""
    hours = callback_data.act == AdminAct.MASTER_HOURS
    await prompt(
        callback,
        state,
        tr,
        AdminInput.hours if hours else AdminInput.breaks,
        tr("ask_hours" if hours else "ask_breaks"),
        target=int_value(callback_data.v),
    )


@router.message(StateFilter(AdminInput.hours), HasText())
@router.message(StateFilter(AdminInput.breaks), HasText())
async def on_master_week(message: Message, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Save weekly hours (several ranges make breaks) or breaks."""
    try:
        week = parse_weekly(message.text or "")
    except ParseError as exc:
        await answer_parse_error(message, tr, exc)
        return
    target = int((await state.get_data())["target"])
    if await svc.master(target) is None:
        await state.clear()
        await message.answer(tr("stale_button"))
        return
    breaks = await state.get_state() != AdminInput.hours.state
    await svc.set_master_week(target, week, breaks=breaks)
    await state.clear()
    await message.answer(tr("hours_saved"))
    await _send_master(message, tr, svc, target)
