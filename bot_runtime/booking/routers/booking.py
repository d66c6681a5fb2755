"""The booking flow's buttons: services -> master -> day -> time -> confirm, edited in one message.

The flow's state and screens are in ``bot_runtime.booking.flow``; these
handlers react to its buttons. Every choice is re-validated against the
database when it matters (hold, confirm, move), never trusted from the button.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import Bot, F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot_runtime.booking.callbacks import BookAct, BookCb
from bot_runtime.booking.domain.parsing import MAX_INPUT, ParseError, parse_client
from bot_runtime.booking.filters import HasText
from bot_runtime.booking.flow import (
    MOVE_MODES,
    BookingFlow,
    live_flow,
    services_screen,
    show_masters,
    show_month,
    show_times,
    snapshot,
)
from bot_runtime.booking.keyboards import button, rows
from bot_runtime.booking.middlewares import event_user
from bot_runtime.booking.routers.spec import RouterSpec
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.storage.settings import Settings
from bot_runtime.booking.texts import Tr
from bot_runtime.booking.ui import show, stale

router = RouterSpec("booking")


@router.callback_query(BookCb.filter(F.act == BookAct.NOOP))
async def on_noop(callback: CallbackQuery) -> None:
    """Calendar labels and blanks: acknowledge the press and do nothing."""
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active), BookCb.filter(F.act == BookAct.SERVICE))
async def on_service(
    callback: CallbackQuery, callback_data: BookCb, state: FSMContext, tr: Tr, svc: BookingService
) -> None:
    """Tick or untick a service."""
    data = await live_flow(callback, state, tr)
    if data is None or data["mode"] in MOVE_MODES:
        if data is not None:
            await stale(callback, tr, strip=False)
        return
    service_id = int(callback_data.v) if callback_data.v.isdigit() else 0
    selected: list[int] = data["svc"]
    if service_id in selected:
        selected.remove(service_id)
    elif len(selected) < 5:
        selected.append(service_id)
    await state.set_data(data)
    text, markup = await services_screen(tr, svc, data)
    await show(callback, text, markup)
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active), BookCb.filter(F.act == BookAct.NEXT))
async def on_next(callback: CallbackQuery, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Go from services to masters (only masters who do every chosen service are offered)."""
    data = await live_flow(callback, state, tr)
    if data is None:
        return
    if not data["svc"] or data["mode"] in MOVE_MODES:
        await callback.answer(tr("pick_service_first"), show_alert=True)
        return
    masters = await svc.masters_for(data["svc"])
    if not masters:
        await callback.answer(tr("no_master_for_all"), show_alert=True)
        return
    await show_masters(callback, tr, svc, data, masters)
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active), BookCb.filter(F.act == BookAct.MASTER))
async def on_master(
    callback: CallbackQuery, callback_data: BookCb, state: FSMContext, tr: Tr, svc: BookingService, settings: Settings
) -> None:
    """Choose a master (0 = any) and show the calendar."""
    data = await live_flow(callback, state, tr)
    if data is None:
        return
    if data["mode"] in MOVE_MODES:
        await stale(callback, tr, strip=False)
        return
    data["master"] = int(callback_data.v) if callback_data.v.isdigit() else 0
    if not await snapshot(tr, svc, data):
        await callback.answer(tr("no_master_for_all"), show_alert=True)
        return
    await show_month(callback, tr, svc, settings, data, None)
    await state.set_data(data)
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active), BookCb.filter(F.act == BookAct.MONTH))
async def on_month(
    callback: CallbackQuery, callback_data: BookCb, state: FSMContext, tr: Tr, svc: BookingService, settings: Settings
) -> None:
    """Page the calendar to another month (within today..horizon)."""
    data = await live_flow(callback, state, tr)
    if data is None or "mids" not in data:
        if data is not None:
            await stale(callback, tr, strip=False)
        return
    month = callback_data.v if len(callback_data.v) == 6 and callback_data.v.isdigit() else None
    await show_month(callback, tr, svc, settings, data, month)
    await state.set_data(data)
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active), BookCb.filter(F.act == BookAct.DAY))
async def on_day(
    callback: CallbackQuery, callback_data: BookCb, state: FSMContext, tr: Tr, svc: BookingService, settings: Settings
) -> None:
    """Choose a day and show its free times."""
    data = await live_flow(callback, state, tr)
    if data is None:
        return
    try:
        datetime.strptime(callback_data.v, "%Y%m%d")
    except ValueError:
        await stale(callback, tr, strip=False)
        return
    if "mids" not in data:
        await stale(callback, tr, strip=False)
        return
    data["day"] = callback_data.v
    await state.set_data(data)
    await show_times(callback, tr, svc, settings, data)
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active), BookCb.filter(F.act == BookAct.SLOT))
async def on_slot(
    callback: CallbackQuery,
    callback_data: BookCb,
    state: FSMContext,
    tr: Tr,
    svc: BookingService,
    settings: Settings,
    client_id: int,
) -> None:
    """Choose a time: hold it (new bookings) or ask to confirm the move."""
    data = await live_flow(callback, state, tr)
    if data is None or "day" not in data or not callback_data.v.isdigit():
        if data is not None:
            await stale(callback, tr, strip=False)
        return
    user = event_user(callback)
    start = datetime.fromtimestamp(int(callback_data.v) * 60, tz=UTC)
    mode = data["mode"]
    other_time = button(tr("btn_other_time"), BookCb(act=BookAct.BACK, v="slots").pack())
    cancel = button(tr("btn_cancel"), BookCb(act=BookAct.ABORT).pack())
    if mode in MOVE_MODES:
        free = await svc.starts_on(
            data["mids"],
            timedelta(minutes=data["minutes"]),
            start.astimezone(svc.tz).date(),
            settings,
            admin=mode == "amove",
            ignore_booking=data["booking"],
        )
        if start not in free:
            await show_times(callback, tr, svc, settings, data)
            await callback.answer(tr("slot_taken"), show_alert=True)
            return
        data["start"] = callback_data.v
        await state.set_data(data)
        old = datetime.fromtimestamp(data["old"] * 60, tz=UTC)
        text = tr(
            "confirm_move",
            title=data["title"],
            master=data["mname"],
            old=tr.when(old, svc.tz),
            new=tr.when(start, svc.tz),
        )
        await show(callback, text, rows([button(tr("btn_move"), BookCb(act=BookAct.OK).pack())], [other_time, cancel]))
        await callback.answer()
        return
    visit = await svc.visit(data["svc"], data["master"])
    if visit is None:
        await callback.answer(tr("no_master_for_all"), show_alert=True)
        return
    await svc.release(data.get("hold"), user.id)
    held = await svc.hold(
        visit=visit,
        start=start,
        client_id=None if mode == "admin" else client_id,
        held_by=user.id,
        settings=settings,
        admin=mode == "admin",
    )
    data["hold"] = held.id if held is not None else None
    await state.set_data(data)
    if held is None:
        await show_times(callback, tr, svc, settings, data)
        await callback.answer(tr("slot_taken"), show_alert=True)
        return
    values = svc.booking_values(tr, held)
    if mode == "admin":
        await state.set_state(BookingFlow.client)
        await show(callback, tr("manual_client", **values), rows([other_time, cancel]))
    else:
        markup = rows([button(tr("btn_confirm"), BookCb(act=BookAct.OK).pack())], [other_time, cancel])
        await show(callback, tr("confirm_booking", minutes=settings.hold_min, **values), markup)
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active), BookCb.filter(F.act == BookAct.OK))
async def on_confirm(
    callback: CallbackQuery,
    state: FSMContext,
    tr: Tr,
    svc: BookingService,
    settings: Settings,
    client_id: int,
    bot: Bot,
) -> None:
    """Confirm the held booking or the move."""
    data = await live_flow(callback, state, tr)
    if data is None:
        return
    user = event_user(callback)
    if data["mode"] in MOVE_MODES:
        await _confirm_move(callback, state, tr, svc, settings, data, bot, client_id)
        return
    if not data.get("hold"):
        await stale(callback, tr, strip=False)
        return
    result = await svc.confirm(bot, hold_id=data["hold"], held_by=user.id, client_id=client_id, settings=settings)
    if isinstance(result, str):
        data["hold"] = None
        if result == "too_many":
            count = await svc.count_active(client_id)
            await state.clear()
            await show(callback, tr("too_many", count=count))
            await callback.answer()
            return
        await state.set_data(data)
        await show_times(callback, tr, svc, settings, data)
        await callback.answer(tr(result, minutes=settings.hold_min), show_alert=True)
        return
    await state.clear()
    key = "booked" if result.status == "confirmed" else "booked_pending"
    await show(callback, tr(key, **svc.booking_values(tr, result)))
    await callback.answer()


async def _confirm_move(
    callback: CallbackQuery,
    state: FSMContext,
    tr: Tr,
    svc: BookingService,
    settings: Settings,
    data: dict[str, Any],
    bot: Bot,
    client_id: int,
) -> None:
    if not data.get("start"):
        await stale(callback, tr, strip=False)
        return
    user = event_user(callback)
    new_start = datetime.fromtimestamp(int(data["start"]) * 60, tz=UTC)
    result = await svc.move(
        bot,
        booking_id=data["booking"],
        new_start=new_start,
        client_id=None if data["mode"] == "amove" else client_id,
        actor=user.id,
    )
    if result == "taken":
        await show_times(callback, tr, svc, settings, data)
        await callback.answer(tr("slot_taken"), show_alert=True)
        return
    await state.clear()
    if result == "cutoff":
        await show(callback, tr("cutoff_passed", cutoff=tr.delta(settings.cutoff)))
    elif isinstance(result, str):
        await show(callback, tr("booking_gone"))
    else:
        await show(callback, tr("moved_ok", when=tr.when(result[1].starts_at, svc.tz)))
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active, BookingFlow.client), BookCb.filter(F.act == BookAct.BACK))
async def on_back(
    callback: CallbackQuery, callback_data: BookCb, state: FSMContext, tr: Tr, svc: BookingService, settings: Settings
) -> None:
    """Step back: to services, masters, the calendar or the times (releasing a hold)."""
    data = await live_flow(callback, state, tr)
    if data is None:
        return
    user = event_user(callback)
    if data.get("hold"):
        await svc.release(data["hold"], user.id)
    data["hold"] = data["start"] = None
    await state.set_state(BookingFlow.active)
    target = callback_data.v
    if target == "svc" and data["mode"] not in MOVE_MODES:
        text, markup = await services_screen(tr, svc, data)
        await show(callback, text, markup)
    elif target == "master" and data["mode"] not in MOVE_MODES:
        masters = await svc.masters_for(data["svc"])
        await show_masters(callback, tr, svc, data, masters)
    elif "mids" not in data:
        text, markup = await services_screen(tr, svc, data)
        await show(callback, text, markup)
    elif target == "slots" and "day" in data:
        await show_times(callback, tr, svc, settings, data)
    else:
        await show_month(callback, tr, svc, settings, data, data.get("month"))
    await state.set_data(data)
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active, BookingFlow.client), BookCb.filter(F.act == BookAct.ABORT))
async def on_abort(callback: CallbackQuery, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Leave the flow, releasing any hold."""
    data = await live_flow(callback, state, tr)
    if data is None:
        return
    await svc.release(data.get("hold"), event_user(callback).id)
    await state.clear()
    await show(callback, tr("flow_aborted"))
    await callback.answer()


@router.message(StateFilter(BookingFlow.client), HasText())
async def on_manual_client(
    message: Message, state: FSMContext, tr: Tr, svc: BookingService, settings: Settings, bot: Bot
) -> None:
    """The owner typed the client's name and phone: book the held time for them."""
    data = await state.get_data()
    text = message.text or ""
    if len(text) > MAX_INPUT:
        await message.answer(tr("too_long", limit=MAX_INPUT))
        return
    try:
        name, phone = parse_client(text)
    except ParseError as exc:
        await message.answer(tr(exc.hint))
        return
    user = event_user(message)
    result = await svc.confirm_manual(
        bot, hold_id=data.get("hold") or 0, admin_id=user.id, admin_name=user.full_name, name=name, phone=phone
    )
    if isinstance(result, str):
        data["hold"] = None
        await state.set_state(BookingFlow.active)
        await state.set_data(data)
        await message.answer(tr("hold_lost", minutes=settings.hold_min))
        return
    await state.clear()
    values = svc.booking_values(tr, result)
    if data.get("msg"):
        # The held-time message loses its buttons; the confirmation below is what the owner reads.
        with contextlib.suppress(TelegramBadRequest):
            await bot.edit_message_reply_markup(chat_id=user.id, message_id=data["msg"], reply_markup=None)
    await message.answer(tr("manual_done", **values), parse_mode="HTML")
