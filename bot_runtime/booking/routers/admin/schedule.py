"""The schedule: a day by master, a week at a glance, one booking's card and what the owner does with it.

Owner-side cancels and moves notify the client; moving and manual booking
reuse the client's booking flow in the owner's mode (no notice or horizon
limits). Requests waiting for approval are answered here too.
"""

from __future__ import annotations

from datetime import date, timedelta

from aiogram import Bot, F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot_runtime.booking.callbacks import AdminAct, AdminCb
from bot_runtime.booking.flow import start_move, start_new
from bot_runtime.booking.keyboards import button, rows
from bot_runtime.booking.routers.admin.common import admin_router, cb, day_key, menu_button, parse_day
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.storage.bookings import Booking
from bot_runtime.booking.storage.settings import Settings
from bot_runtime.booking.texts import Html, Tr, esc, fit
from bot_runtime.booking.ui import send, show

router = admin_router("admin-schedule")


def _mark(tr: Tr, booking: Booking) -> str:
    return {"pending": tr("mark_pending"), "no_show": tr("mark_no_show")}.get(booking.status, "")


@router.callback_query(AdminCb.filter(F.act == AdminAct.DAY))
async def on_day(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """One day's schedule by master, each booking a button."""
    day = parse_day(callback_data.v, svc.today())
    items = await svc.bookings_on(day, day)
    lines = [tr("day_title", day=tr.day(day))]
    if not items:
        lines.append(tr("day_empty"))
    by_master: dict[str, list[Booking]] = {}
    for b in items:
        by_master.setdefault(b.master_name, []).append(b)
    for master, entries in sorted(by_master.items()):
        lines.append(tr("day_master", master=master))
        for b in entries:
            lines.append(
                tr(
                    "day_line",
                    time=tr.time(b.starts_at, svc.tz),
                    client=svc.client_label(b),
                    title=b.title,
                    mark=_mark(tr, b),
                )
            )
    buttons = [
        button(
            f"{tr.time(b.starts_at, svc.tz)} {b.master_name[:10]} · {(b.client_name or '?')[:16]}",
            cb(AdminAct.BOOKING, b.id),
        )
        for b in items[:40]
    ]
    grid = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    nav = [
        button("◀️", cb(AdminAct.DAY, day_key(day - timedelta(days=1)))),
        button(tr("ab_week"), cb(AdminAct.WEEK, day_key(day))),
        button("▶️", cb(AdminAct.DAY, day_key(day + timedelta(days=1)))),
    ]
    await show(callback, "\n".join(lines), rows(*grid, nav, [menu_button(tr)]))
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == AdminAct.WEEK))
async def on_week(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Seven days from Monday: counts per day and the bookings, days as buttons."""
    day = parse_day(callback_data.v, svc.today())
    monday = day - timedelta(days=day.weekday())
    sunday = monday + timedelta(days=6)
    items = await svc.bookings_on(monday, sunday)
    per_day: dict[date, list[Booking]] = {monday + timedelta(days=i): [] for i in range(7)}
    for b in items:
        per_day.setdefault(b.starts_at.astimezone(svc.tz).date(), []).append(b)
    title = tr("week_title", first=tr.day_short(monday), last=tr.day_short(sunday))
    summary = [title]
    detailed = [title]
    for current, entries in per_day.items():
        summary.append(tr("week_day", day=tr.day(current), count=len(entries)))
        detailed.append(summary[-1])
        for b in entries:
            detailed.append(
                tr(
                    "day_line",
                    time=tr.time(b.starts_at, svc.tz),
                    client=svc.client_label(b),
                    title=f"{b.title} ({b.master_name})",
                    mark=_mark(tr, b),
                )
            )
    # A quiet week lists every booking; a busy one shows counts (the day buttons open the details).
    lines = detailed if len("\n".join(detailed)) <= 3800 else summary
    names = tr.weekday_names()
    days = [
        button(
            f"{names[i]} {len(per_day[monday + timedelta(days=i)])}",
            cb(AdminAct.DAY, day_key(monday + timedelta(days=i))),
        )
        for i in range(7)
    ]
    nav = [
        button("◀️", cb(AdminAct.WEEK, day_key(monday - timedelta(days=7)))),
        button("▶️", cb(AdminAct.WEEK, day_key(monday + timedelta(days=7)))),
    ]
    await show(callback, fit("\n".join(lines)), rows(days[:4], days[4:], nav, [menu_button(tr)]))
    await callback.answer()


async def booking_screen(tr: Tr, svc: BookingService, booking: Booking) -> tuple[str, InlineKeyboardMarkup]:
    """One booking for the owner, with the actions that apply to its status and time."""
    values = svc.booking_values(tr, booking)
    values["client"] = booking.client_name or "?"
    phone = f"\n📞 {booking.client_phone}" if booking.client_phone else ""
    if booking.client_username:
        phone = f" @{booking.client_username}" + phone
    text = tr(
        "admin_booking",
        id=booking.id,
        phone=phone,
        status=tr.status(booking.status),
        source=Html(tr("source_admin")) if booking.source == "admin" else Html(""),
        **values,
    )
    now = svc.now()
    actions = []
    if booking.status == "confirmed" and booking.starts_at <= now:
        actions.append(button(tr("btn_no_show"), cb(AdminAct.NO_SHOW, booking.id)))
    if booking.active and booking.starts_at > now:
        actions.append(button(tr("btn_admin_move"), cb(AdminAct.MOVE, booking.id)))
        actions.append(button(tr("btn_admin_cancel"), cb(AdminAct.CANCEL, booking.id)))
    if booking.status == "pending":
        actions = [
            button(tr("btn_approve"), cb(AdminAct.APPROVE, booking.id)),
            button(tr("btn_decline"), cb(AdminAct.DECLINE, booking.id)),
            *actions[:1],
        ]
    local_day = booking.starts_at.astimezone(svc.tz).date()
    extra = [button(tr("btn_client_card"), cb(AdminAct.CLIENT, booking.client_id))] if booking.client_id else []
    return text, rows(actions, extra, [button(tr("btn_back"), cb(AdminAct.DAY, day_key(local_day))), menu_button(tr)])


async def _booking_or_gone(callback: CallbackQuery, tr: Tr, svc: BookingService, value: str) -> Booking | None:
    booking = await svc.booking(int(value)) if value.isdigit() else None
    if booking is None or booking.status == "held":
        await callback.answer(tr("booking_gone"), show_alert=True)
        return None
    return booking


@router.callback_query(AdminCb.filter(F.act.in_({AdminAct.BOOKING, AdminAct.BOOKING_NEW_MESSAGE})))
async def on_booking(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Open a booking card: in place from the schedule, as a new message from an alert ("bkn").

    Alerts stay as the owner's log of events, so opening one must not overwrite it.
    """
    booking = await _booking_or_gone(callback, tr, svc, callback_data.v)
    if booking is None:
        return
    text, markup = await booking_screen(tr, svc, booking)
    if callback_data.act == AdminAct.BOOKING_NEW_MESSAGE:
        await send(callback, text, markup)
    else:
        await show(callback, text, markup)
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == AdminAct.NO_SHOW))
async def on_no_show(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Mark a started confirmed booking as a no-show."""
    booking = await _booking_or_gone(callback, tr, svc, callback_data.v)
    if booking is None:
        return
    marked = await svc.mark_no_show(booking.id)
    if marked is None:
        await callback.answer(tr("no_show_not_yet"), show_alert=True)
        return
    text, markup = await booking_screen(tr, svc, marked)
    await show(callback, text, markup)
    await callback.answer(tr("no_show_marked"))


@router.callback_query(AdminCb.filter(F.act == AdminAct.CANCEL))
async def on_admin_cancel(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Ask before cancelling a booking on the salon's side."""
    booking = await _booking_or_gone(callback, tr, svc, callback_data.v)
    if booking is None:
        return
    markup = rows(
        [
            button(tr("btn_yes_cancel"), cb(AdminAct.CANCEL_YES, booking.id)),
            button(tr("btn_keep"), cb(AdminAct.BOOKING, booking.id)),
        ]
    )
    await show(callback, tr("admin_ask_cancel", id=booking.id), markup)
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == AdminAct.CANCEL_YES))
async def on_admin_cancel_yes(
    callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService, bot: Bot
) -> None:
    """Cancel and notify the client."""
    if not callback_data.v.isdigit():
        await callback.answer(tr("booking_gone"), show_alert=True)
        return
    result = await svc.cancel(bot, booking_id=int(callback_data.v), client_id=None, by="admin")
    if isinstance(result, str):
        await callback.answer(tr("booking_gone"), show_alert=True)
        return
    day = result.starts_at.astimezone(svc.tz).date()
    await show(
        callback,
        tr("admin_cancelled", id=result.id),
        rows([button(tr("btn_back"), cb(AdminAct.DAY, day_key(day))), menu_button(tr)]),
    )
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == AdminAct.MOVE))
async def on_admin_move(
    callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr, svc: BookingService, settings: Settings
) -> None:
    """Move a booking on the salon's side: the calendar of its master, no notice or horizon limits."""
    booking = await _booking_or_gone(callback, tr, svc, callback_data.v)
    if booking is None or not booking.active:
        if booking is not None:
            await callback.answer(tr("booking_gone"), show_alert=True)
        return
    await start_move(callback, state, tr=tr, svc=svc, settings=settings, booking=booking, admin=True)


@router.callback_query(AdminCb.filter(F.act == AdminAct.BOOK))
async def on_manual_booking(
    callback: CallbackQuery, state: FSMContext, tr: Tr, svc: BookingService, settings: Settings, client_id: int
) -> None:
    """Book a client who called or walked in: the booking flow in the owner's mode."""
    await start_new(
        callback, state, tr=tr, svc=svc, settings=settings, client_id=client_id, blacklisted=False, admin=True
    )
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == AdminAct.PENDING))
async def on_pending(callback: CallbackQuery, tr: Tr, svc: BookingService) -> None:
    """Requests waiting for approval, each with approve/decline."""
    items = await svc.pending_requests()
    lines = [tr("pending_title")]
    grid = []
    if not items:
        lines.append(tr("pending_empty"))
    for b in items:
        lines.append(
            tr(
                "day_line",
                time=tr.when(b.starts_at, svc.tz),
                client=svc.client_label(b),
                title=f"{b.title} ({b.master_name})",
                mark="",
            )
        )
        grid.append(
            [
                button(f"✅ #{b.id}", cb(AdminAct.APPROVE, b.id)),
                button(f"❌ #{b.id}", cb(AdminAct.DECLINE, b.id)),
                button(f"📋 #{b.id}", cb(AdminAct.BOOKING, b.id)),
            ]
        )
    await show(callback, "\n".join(lines), rows(*grid, [menu_button(tr)]))
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act.in_({AdminAct.APPROVE, AdminAct.DECLINE})))
async def on_decide(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService, bot: Bot) -> None:
    """Approve or decline a request; a second admin pressing the same alert is told it is handled."""
    approve = callback_data.act == AdminAct.APPROVE
    booking = (
        await svc.decide(bot, booking_id=int(callback_data.v or 0), approve=approve)
        if callback_data.v.isdigit()
        else None
    )
    if booking is None:
        await callback.answer(tr("already_handled"), show_alert=True)
        return
    note = tr("approved" if approve else "declined", id=booking.id)
    message = callback.message
    if isinstance(message, Message) and message.html_text:
        await show(callback, message.html_text + "\n\n" + esc(note))
    await callback.answer(note)
