"""The booking flow's state and screens: services -> master -> day -> time, edited in one message.

The same flow, in different modes, serves a client booking ("new"), a client
moving a booking ("move"), the owner booking a caller ("admin") and the owner
moving a booking ("amove"). Its state lives in Redis (aiogram FSM), keyed by
chat and user, and records which message is the live one: a button pressed
under any other message is answered as out of date instead of acting on
stale choices.

Why a module outside ``routers``: the client's menu, "my bookings" and the
owner's panel all open this flow (``start_new``, ``start_move``), and no
router imports another; the handlers of its buttons are in
``routers.booking``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot_runtime.booking.callbacks import BookAct, BookCb
from bot_runtime.booking.keyboards import button, month_calendar, rows, time_grid
from bot_runtime.booking.middlewares import event_user
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.storage.bookings import Booking, visit_of
from bot_runtime.booking.storage.catalog import Master
from bot_runtime.booking.storage.settings import Settings
from bot_runtime.booking.texts import Tr
from bot_runtime.booking.ui import show, stale


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
    await release_previous(state, svc, user.id)
    if not admin:
        if blacklisted:
            await show(target, tr("blacklisted"))
            return
        count = await svc.count_active(client_id)
        if count >= settings.max_active_per_client:
            await show(target, tr("too_many", count=count))
            return
    data: dict[str, Any] = {"mode": "admin" if admin else "new", "svc": [], "master": 0}
    text, markup = await services_screen(tr, svc, data)
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
    await release_previous(state, svc, user.id)
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
    await show_month(callback, tr, svc, settings, data, None)
    await state.set_state(BookingFlow.active)
    await state.set_data(data)
    await callback.answer()


async def release_previous(state: FSMContext, svc: BookingService, user_id: int) -> bool:
    """Give back the hold of an abandoned flow (a new one starts); return True when there was a flow."""
    if await state.get_state() is None:
        return False
    old = await state.get_data()
    await svc.release(old.get("hold"), user_id)
    return True


async def leave_flow(state: FSMContext, svc: BookingService, user_id: int) -> bool:
    """Clear any flow or typed input, releasing its hold; return True when there was one."""
    if not await release_previous(state, svc, user_id):
        return False
    await state.clear()
    return True


# --------------------------------------------------------------------------- screens


async def services_screen(tr: Tr, svc: BookingService, data: dict[str, Any]) -> tuple[str, InlineKeyboardMarkup | None]:
    """The service checklist with the running total."""
    services = await svc.bookable_services()
    if not services:
        return tr("no_services"), None
    selected: list[int] = data["svc"]
    lines: list[list[InlineKeyboardButton]] = []
    for s in services:
        mark = "✅ " if s.id in selected else ""
        label = f"{mark}{s.name} · {tr.duration(s.duration_min)} · {tr.price(s.price, s.price_max)}"
        lines.append([button(label, BookCb(act=BookAct.SERVICE, v=str(s.id)).pack())])
    text = tr("manual_services" if data["mode"] == "admin" else "choose_services")
    chosen = [s for s in services if s.id in selected]
    if chosen:
        title, duration, price, price_max = visit_of(chosen)
        text += tr(
            "selected",
            items=title,
            duration=tr.delta(duration),
            price=tr.price(price, price_max),
        )
        lines.append([button(tr("btn_next"), BookCb(act=BookAct.NEXT).pack())])
    lines.append([button(tr("btn_cancel"), BookCb(act=BookAct.ABORT).pack())])
    return text, rows(*lines)


async def snapshot(tr: Tr, svc: BookingService, data: dict[str, Any]) -> bool:
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
        master = await svc.master(data["master"])
        data["mname"] = master.name if master else "?"
    else:
        data["mname"] = tr("any_master").removeprefix("👥 ")
    return True


def _month_key(year: int, month: int) -> str:
    return f"{year:04d}{month:02d}"


def _next_month(year: int, month: int, step: int = 1) -> tuple[int, int]:
    index = year * 12 + month - 1 + step
    return index // 12, index % 12 + 1


async def show_month(
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
        back = BookCb(act=BookAct.ABORT).pack()
    else:
        text = tr("choose_day", title=data["title"], master=data["mname"])
        back = BookCb(act=BookAct.BACK, v="master").pack()
    if not room:
        text += tr("no_days")
    markup = month_calendar(tr, year, mon, room, today=first, prev_month=prev_month, next_month=next_month, back=back)
    await show(target, text, markup)


async def show_times(
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


async def live_flow(callback: CallbackQuery, state: FSMContext, tr: Tr) -> dict[str, Any] | None:
    """Return the flow's data if the button belongs to the live flow message, else answer "out of date"."""
    data = await state.get_data()
    message = callback.message
    if not data or message is None or data.get("msg") != message.message_id:
        await stale(callback, tr, strip=True)
        return None
    return data


async def show_masters(
    callback: CallbackQuery, tr: Tr, svc: BookingService, data: dict[str, Any], masters: list[Master]
) -> None:
    """Offer the masters who do every chosen service ("any master" first when there is a choice)."""
    lines = [[button(m.name, BookCb(act=BookAct.MASTER, v=str(m.id)).pack())] for m in masters]
    if len(masters) > 1:
        lines.insert(0, [button(tr("any_master"), BookCb(act=BookAct.MASTER, v="0").pack())])
    lines.append(
        [
            button(tr("btn_back"), BookCb(act=BookAct.BACK, v="svc").pack()),
            button(tr("btn_cancel"), BookCb(act=BookAct.ABORT).pack()),
        ]
    )
    services = await svc.services(data["svc"])
    await show(callback, tr("choose_master", title=" + ".join(s.name for s in services)), rows(*lines))
