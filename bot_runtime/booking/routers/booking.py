"""The booking flow: services -> master -> day -> time -> confirm, edited in one message.

The same flow, in different modes, serves a client booking ("new"), a client
moving a booking ("move"), the owner booking a caller ("admin") and the owner
moving a booking ("amove"). Its state lives in Redis (aiogram FSM), keyed by
chat and user, and records which message is the live one: a button pressed
under any other message is answered as out of date instead of acting on
stale choices. Every choice is re-validated against the database when it
matters (hold, confirm, move), never trusted from the button.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiogram import Bot, F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot_runtime.booking.callbacks import BookCb
from bot_runtime.booking.domain.parsing import MAX_INPUT, ParseError, parse_client
from bot_runtime.booking.filters import HasText
from bot_runtime.booking.keyboards import button, month_calendar, rows, time_grid
from bot_runtime.booking.middlewares import event_user
from bot_runtime.booking.routers.spec import RouterSpec
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.storage import bookings, catalog
from bot_runtime.booking.storage.bookings import Booking
from bot_runtime.booking.storage.settings import Settings
from bot_runtime.booking.texts import Tr
from bot_runtime.booking.ui import show, stale

router = RouterSpec("booking")


class BookingFlow(StatesGroup):
    """``active``: choosing with buttons; ``client``: the owner types the client's name and phone."""

    active = State()
    client = State()


ADMIN_MODES = ("admin", "amove")
MOVE_MODES = ("move", "amove")


# --------------------------------------------------------------------------- entry points


async def start_new(
    target: Message | CallbackQuery,
    state: FSMContext,
    *,
    tr: Tr,
    svc: BookingService,
    settings: Settings,
    client_id: int,
    blacklisted: bool,
    admin: bool = False,
) -> None:
    """Open the service list for a new booking (the client's own, or the owner's manual one)."""
    user = event_user(target)
    await _release_previous(state, svc, user.id)
    if not admin:
        if blacklisted:
            await show(target, tr("blacklisted"))
            return
        count = await bookings.count_active(svc.pool, client_id, svc.now())
        if count >= settings.max_active_per_client:
            await show(target, tr("too_many", count=count))
            return
    data: dict[str, Any] = {"mode": "admin" if admin else "new", "svc": [], "master": 0}
    text, markup = await _services_screen(tr, svc, data)
    sent = await show(target, text, markup)
    data["msg"] = sent.message_id
    await state.set_state(BookingFlow.active)
    await state.set_data(data)


async def start_move(
    callback: CallbackQuery,
    state: FSMContext,
    *,
    tr: Tr,
    svc: BookingService,
    settings: Settings,
    booking: Booking,
    admin: bool,
) -> None:
    """Open the calendar to move ``booking`` (same master, same services) in place of the pressed message."""
    user = event_user(callback)
    await _release_previous(state, svc, user.id)
    data: dict[str, Any] = {
        "mode": "amove" if admin else "move",
        "svc": list(booking.service_ids),
        "master": booking.master_id,
        "booking": booking.id,
        "title": booking.title,
        "mname": booking.master_name,
        "minutes": int(booking.duration.total_seconds() // 60),
        "mids": [booking.master_id],
        "old": int(booking.starts_at.timestamp()) // 60,
        "msg": callback.message.message_id if callback.message else 0,
    }
    await _show_month(callback, tr, svc, settings, data, None)
    await state.set_state(BookingFlow.active)
    await state.set_data(data)
    await callback.answer()


async def _release_previous(state: FSMContext, svc: BookingService, user_id: int) -> None:
    """Give back the hold of an abandoned flow when a new one starts."""
    if await state.get_state() is not None:
        old = await state.get_data()
        await svc.release(old.get("hold"), user_id)


# --------------------------------------------------------------------------- screens


async def _services_screen(
    tr: Tr, svc: BookingService, data: dict[str, Any]
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The service checklist with the running total."""
    services = await catalog.bookable_services(svc.pool)
    if not services:
        return tr("no_services"), None
    selected: list[int] = data["svc"]
    lines: list[list[InlineKeyboardButton]] = []
    for s in services:
        mark = "✅ " if s.id in selected else ""
        label = f"{mark}{s.name} · {tr.duration(s.duration_min)} · {tr.price(s.price, s.price_max)}"
        lines.append([button(label, BookCb(act="svc", v=str(s.id)).pack())])
    text = tr("manual_services" if data["mode"] == "admin" else "choose_services")
    chosen = [s for s in services if s.id in selected]
    if chosen:
        title, duration, price, price_max = bookings.visit_of(chosen)
        text += tr(
            "selected",
            items=title,
            duration=tr.delta(duration),
            price=tr.price(price, price_max),
        )
        lines.append([button(tr("btn_next"), BookCb(act="next").pack())])
    lines.append([button(tr("btn_cancel"), BookCb(act="x").pack())])
    return text, rows(*lines)


async def _snapshot(tr: Tr, svc: BookingService, data: dict[str, Any]) -> bool:
    """Resolve the chosen services and master once and keep what the next screens show in the flow data.

    The calendar and time screens then need no catalogue queries; the hold
    re-reads the catalogue, so a change by the owner mid-flow still counts
    where it matters. Returns False when no master can do the visit.
    """
    visit = await svc.visit(data["svc"], data["master"])
    if visit is None:
        return False
    data["title"] = " + ".join(s.name for s in visit.services)
    data["minutes"] = int(visit.duration.total_seconds() // 60)
    data["mids"] = visit.master_ids
    if data["master"]:
        master = await catalog.get_master(svc.pool, data["master"])
        data["mname"] = master.name if master else "?"
    else:
        data["mname"] = tr("any_master").removeprefix("👥 ")
    return True


def _month_key(year: int, month: int) -> str:
    return f"{year:04d}{month:02d}"


def _next_month(year: int, month: int, step: int = 1) -> tuple[int, int]:
    index = year * 12 + month - 1 + step
    return index // 12, index % 12 + 1


async def _show_month(
    target: Message | CallbackQuery,
    tr: Tr,
    svc: BookingService,
    settings: Settings,
    data: dict[str, Any],
    month: str | None,
) -> None:
    """Render the calendar (the caller saves ``data``); without ``month`` the first month with room."""
    masters, duration = data["mids"], timedelta(minutes=data["minutes"])
    admin = data["mode"] in ADMIN_MODES
    first, last = svc.month_window(settings, admin=admin)
    ignore = data.get("booking")
    if month is None:
        year, mon = first.year, first.month
        room = await svc.room_in_month(masters, duration, year, mon, settings, admin=admin, ignore_booking=ignore)
        probe_year, probe_mon = year, mon
        while not room and date(*_next_month(probe_year, probe_mon), 1) <= last:
            probe_year, probe_mon = _next_month(probe_year, probe_mon)
            probe = await svc.room_in_month(
                masters, duration, probe_year, probe_mon, settings, admin=admin, ignore_booking=ignore
            )
            if probe:
                year, mon, room = probe_year, probe_mon, probe
                break
    else:
        year, mon = int(month[:4]), int(month[4:])
        if not (first.year, first.month) <= (year, mon) <= (last.year, last.month):
            year, mon = first.year, first.month
        room = await svc.room_in_month(masters, duration, year, mon, settings, admin=admin, ignore_booking=ignore)
    data["month"] = _month_key(year, mon)
    prev_month = _month_key(*_next_month(year, mon, -1)) if (year, mon) > (first.year, first.month) else None
    next_month = _month_key(*_next_month(year, mon)) if date(*_next_month(year, mon), 1) <= last else None
    if data["mode"] in MOVE_MODES:
        old = datetime.fromtimestamp(data["old"] * 60, tz=UTC)
        text = tr("choose_new_day", title=data["title"], master=data["mname"], when=tr.when(old, svc.tz))
        back = BookCb(act="x").pack()
    else:
        text = tr("choose_day", title=data["title"], master=data["mname"])
        back = BookCb(act="back", v="master").pack()
    if not room:
        text += tr("no_days")
    markup = month_calendar(tr, year, mon, room, today=first, prev_month=prev_month, next_month=next_month, back=back)
    await show(target, text, markup)


async def _show_times(
    target: Message | CallbackQuery, tr: Tr, svc: BookingService, settings: Settings, data: dict[str, Any]
) -> None:
    """Render the free times of the chosen day."""
    day = datetime.strptime(data["day"], "%Y%m%d").date()
    starts = await svc.starts_on(
        data["mids"],
        timedelta(minutes=data["minutes"]),
        day,
        settings,
        admin=data["mode"] in ADMIN_MODES,
        ignore_booking=data.get("booking"),
    )
    text = tr("choose_time", title=data["title"], master=data["mname"], day=tr.day(day))
    if not starts:
        text += tr("no_times")
    await show(target, text, time_grid(tr, list(starts), svc.tz))


async def _flow(callback: CallbackQuery, state: FSMContext, tr: Tr) -> dict[str, Any] | None:
    """Return the flow's data if the button belongs to the live flow message, else answer "out of date"."""
    data = await state.get_data()
    message = callback.message
    if not data or message is None or data.get("msg") != message.message_id:
        await stale(callback, tr, strip=True)
        return None
    return data


# --------------------------------------------------------------------------- handlers


@router.callback_query(BookCb.filter(F.act == "noop"))
async def on_noop(callback: CallbackQuery) -> None:
    """Calendar labels and blanks: acknowledge the press and do nothing."""
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active), BookCb.filter(F.act == "svc"))
async def on_service(
    callback: CallbackQuery, callback_data: BookCb, state: FSMContext, tr: Tr, svc: BookingService
) -> None:
    """Tick or untick a service."""
    data = await _flow(callback, state, tr)
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
    text, markup = await _services_screen(tr, svc, data)
    await show(callback, text, markup)
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active), BookCb.filter(F.act == "next"))
async def on_next(callback: CallbackQuery, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Go from services to masters (only masters who do every chosen service are offered)."""
    data = await _flow(callback, state, tr)
    if data is None:
        return
    if not data["svc"] or data["mode"] in MOVE_MODES:
        await callback.answer(tr("pick_service_first"), show_alert=True)
        return
    masters = await catalog.masters_for(svc.pool, data["svc"])
    if not masters:
        await callback.answer(tr("no_master_for_all"), show_alert=True)
        return
    await _show_masters(callback, tr, svc, data, masters)
    await callback.answer()


async def _show_masters(
    callback: CallbackQuery, tr: Tr, svc: BookingService, data: dict[str, Any], masters: list[catalog.Master]
) -> None:
    lines = [[button(m.name, BookCb(act="m", v=str(m.id)).pack())] for m in masters]
    if len(masters) > 1:
        lines.insert(0, [button(tr("any_master"), BookCb(act="m", v="0").pack())])
    lines.append(
        [button(tr("btn_back"), BookCb(act="back", v="svc").pack()), button(tr("btn_cancel"), BookCb(act="x").pack())]
    )
    services = await catalog.get_services(svc.pool, data["svc"])
    await show(callback, tr("choose_master", title=" + ".join(s.name for s in services)), rows(*lines))


@router.callback_query(StateFilter(BookingFlow.active), BookCb.filter(F.act == "m"))
async def on_master(
    callback: CallbackQuery, callback_data: BookCb, state: FSMContext, tr: Tr, svc: BookingService, settings: Settings
) -> None:
    """Choose a master (0 = any) and show the calendar."""
    data = await _flow(callback, state, tr)
    if data is None:
        return
    if data["mode"] in MOVE_MODES:
        await stale(callback, tr, strip=False)
        return
    data["master"] = int(callback_data.v) if callback_data.v.isdigit() else 0
    if not await _snapshot(tr, svc, data):
        await callback.answer(tr("no_master_for_all"), show_alert=True)
        return
    await _show_month(callback, tr, svc, settings, data, None)
    await state.set_data(data)
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active), BookCb.filter(F.act == "mon"))
async def on_month(
    callback: CallbackQuery, callback_data: BookCb, state: FSMContext, tr: Tr, svc: BookingService, settings: Settings
) -> None:
    """Page the calendar to another month (within today..horizon)."""
    data = await _flow(callback, state, tr)
    if data is None or "mids" not in data:
        if data is not None:
            await stale(callback, tr, strip=False)
        return
    month = callback_data.v if len(callback_data.v) == 6 and callback_data.v.isdigit() else None
    await _show_month(callback, tr, svc, settings, data, month)
    await state.set_data(data)
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active), BookCb.filter(F.act == "day"))
async def on_day(
    callback: CallbackQuery, callback_data: BookCb, state: FSMContext, tr: Tr, svc: BookingService, settings: Settings
) -> None:
    """Choose a day and show its free times."""
    data = await _flow(callback, state, tr)
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
    await _show_times(callback, tr, svc, settings, data)
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active), BookCb.filter(F.act == "slot"))
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
    data = await _flow(callback, state, tr)
    if data is None or "day" not in data or not callback_data.v.isdigit():
        if data is not None:
            await stale(callback, tr, strip=False)
        return
    user = event_user(callback)
    start = datetime.fromtimestamp(int(callback_data.v) * 60, tz=UTC)
    mode = data["mode"]
    other_time = button(tr("btn_other_time"), BookCb(act="back", v="slots").pack())
    cancel = button(tr("btn_cancel"), BookCb(act="x").pack())
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
            await _show_times(callback, tr, svc, settings, data)
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
        await show(callback, text, rows([button(tr("btn_move"), BookCb(act="ok").pack())], [other_time, cancel]))
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
        await _show_times(callback, tr, svc, settings, data)
        await callback.answer(tr("slot_taken"), show_alert=True)
        return
    values = svc.booking_values(tr, held)
    if mode == "admin":
        await state.set_state(BookingFlow.client)
        await show(callback, tr("manual_client", **values), rows([other_time, cancel]))
    else:
        markup = rows([button(tr("btn_confirm"), BookCb(act="ok").pack())], [other_time, cancel])
        await show(callback, tr("confirm_booking", minutes=settings.hold_min, **values), markup)
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active), BookCb.filter(F.act == "ok"))
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
    data = await _flow(callback, state, tr)
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
            count = await bookings.count_active(svc.pool, client_id, svc.now())
            await state.clear()
            await show(callback, tr("too_many", count=count))
            await callback.answer()
            return
        await state.set_data(data)
        await _show_times(callback, tr, svc, settings, data)
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
        await _show_times(callback, tr, svc, settings, data)
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


@router.callback_query(StateFilter(BookingFlow.active, BookingFlow.client), BookCb.filter(F.act == "back"))
async def on_back(
    callback: CallbackQuery, callback_data: BookCb, state: FSMContext, tr: Tr, svc: BookingService, settings: Settings
) -> None:
    """Step back: to services, masters, the calendar or the times (releasing a hold)."""
    data = await _flow(callback, state, tr)
    if data is None:
        return
    user = event_user(callback)
    if data.get("hold"):
        await svc.release(data["hold"], user.id)
    data["hold"] = data["start"] = None
    await state.set_state(BookingFlow.active)
    target = callback_data.v
    if target == "svc" and data["mode"] not in MOVE_MODES:
        text, markup = await _services_screen(tr, svc, data)
        await show(callback, text, markup)
    elif target == "master" and data["mode"] not in MOVE_MODES:
        masters = await catalog.masters_for(svc.pool, data["svc"])
        await _show_masters(callback, tr, svc, data, masters)
    elif "mids" not in data:
        text, markup = await _services_screen(tr, svc, data)
        await show(callback, text, markup)
    elif target == "slots" and "day" in data:
        await _show_times(callback, tr, svc, settings, data)
    else:
        await _show_month(callback, tr, svc, settings, data, data.get("month"))
    await state.set_data(data)
    await callback.answer()


@router.callback_query(StateFilter(BookingFlow.active, BookingFlow.client), BookCb.filter(F.act == "x"))
async def on_abort(callback: CallbackQuery, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Leave the flow, releasing any hold."""
    data = await _flow(callback, state, tr)
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
