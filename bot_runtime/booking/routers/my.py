""" "My bookings": a client sees upcoming bookings, cancels or moves them up to the cut-off.

Buttons carry the booking id and are self-contained; every press re-reads the
booking and checks it is the client's, still active and outside the cut-off,
so a button from an old message answers "no longer current" instead of
acting on stale data.
"""

from __future__ import annotations

from aiogram import Bot, F
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot_runtime.booking.callbacks import MyAct, MyCb, RateCb
from bot_runtime.booking.filters import TextIn
from bot_runtime.booking.flow import start_move
from bot_runtime.booking.keyboards import button, my_list_button, rows
from bot_runtime.booking.routers.spec import RouterSpec
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.storage.bookings import Booking
from bot_runtime.booking.storage.settings import Settings
from bot_runtime.booking.texts import Tr, all_variants
from bot_runtime.booking.ui import show

router = RouterSpec("my-bookings")


async def _list(target: Message | CallbackQuery, tr: Tr, svc: BookingService, client_id: int) -> None:
    upcoming = await svc.upcoming_for_client(client_id)
    if not upcoming:
        await show(target, tr("my_empty"))
        return
    lines = [tr("my_title")]
    buttons = []
    for b in upcoming:
        status = tr("status_pending") if b.status == "pending" else ""
        when = tr.when(b.starts_at, svc.tz)
        lines.append(tr("my_line", when=when, title=b.title, master=b.master_name, status=status))
        local = b.starts_at.astimezone(svc.tz)
        buttons.append([button(f"{local:%d.%m %H:%M} · {b.title}"[:60], MyCb(act=MyAct.OPEN, id=b.id).pack())])
    await show(target, "\n".join(lines), rows(*buttons))


@router.message(Command("my"))
@router.message(TextIn(all_variants("btn_my")))
async def on_my(message: Message, tr: Tr, svc: BookingService, client_id: int) -> None:
    """Show the client's upcoming bookings as a new message."""
    await _list(message, tr, svc, client_id)


@router.callback_query(MyCb.filter(F.act == MyAct.LIST))
async def on_list(callback: CallbackQuery, tr: Tr, svc: BookingService, client_id: int) -> None:
    """Back to the list, in place."""
    await _list(callback, tr, svc, client_id)
    await callback.answer()


async def _own_active(
    callback: CallbackQuery, tr: Tr, svc: BookingService, client_id: int, booking_id: int
) -> Booking | None:
    """Return the client's active upcoming booking, or answer that it is no longer current."""
    booking = await svc.booking(booking_id)
    if booking is None or booking.client_id != client_id or not booking.active or booking.starts_at <= svc.now():
        await callback.answer(tr("booking_gone"), show_alert=True)
        await _list(callback, tr, svc, client_id)
        return None
    return booking


@router.callback_query(MyCb.filter(F.act == MyAct.OPEN))
async def on_open(
    callback: CallbackQuery, callback_data: MyCb, tr: Tr, svc: BookingService, client_id: int, settings: Settings
) -> None:
    """Show one booking with move/cancel, or the cut-off note when it is too late for that."""
    booking = await _own_active(callback, tr, svc, client_id, callback_data.id)
    if booking is None:
        return
    text = tr("booking_card", status=tr.status(booking.status), **_values(tr, svc, booking))
    if svc.now() > booking.starts_at - settings.cutoff:
        text += tr("cutoff_note", cutoff=tr.delta(settings.cutoff))
        markup = rows([my_list_button(tr)])
    else:
        markup = rows(
            [
                button(tr("btn_reschedule"), MyCb(act=MyAct.MOVE, id=booking.id).pack()),
                button(tr("btn_cancel_booking"), MyCb(act=MyAct.CANCEL, id=booking.id).pack()),
            ],
            [my_list_button(tr)],
        )
    await show(callback, text, markup)
    await callback.answer()


def _values(tr: Tr, svc: BookingService, booking: Booking) -> dict[str, object]:
    values = svc.booking_values(tr, booking)
    values.pop("client", None)
    values.pop("company", None)
    return values


@router.callback_query(MyCb.filter(F.act == MyAct.CANCEL))
async def on_cancel(
    callback: CallbackQuery, callback_data: MyCb, tr: Tr, svc: BookingService, client_id: int, settings: Settings
) -> None:
    """Ask before cancelling."""
    booking = await _own_active(callback, tr, svc, client_id, callback_data.id)
    if booking is None:
        return
    if svc.now() > booking.starts_at - settings.cutoff:
        await callback.answer(tr("cutoff_passed", cutoff=tr.delta(settings.cutoff)), show_alert=True)
        return
    markup = rows(
        [
            button(tr("btn_yes_cancel"), MyCb(act=MyAct.CANCEL_YES, id=booking.id).pack()),
            button(tr("btn_keep"), MyCb(act=MyAct.OPEN, id=booking.id).pack()),
        ]
    )
    await show(callback, tr("ask_cancel", title=booking.title, when=tr.when(booking.starts_at, svc.tz)), markup)
    await callback.answer()


@router.callback_query(MyCb.filter(F.act == MyAct.CANCEL_YES))
async def on_cancel_yes(
    callback: CallbackQuery,
    callback_data: MyCb,
    tr: Tr,
    svc: BookingService,
    client_id: int,
    settings: Settings,
    bot: Bot,
) -> None:
    """Cancel (the database re-checks ownership, status and cut-off) and alert the owner."""
    result = await svc.cancel(bot, booking_id=callback_data.id, client_id=client_id, by="client")
    if result == "cutoff":
        await callback.answer(tr("cutoff_passed", cutoff=tr.delta(settings.cutoff)), show_alert=True)
        return
    if isinstance(result, str):
        await callback.answer(tr("booking_gone"), show_alert=True)
        await _list(callback, tr, svc, client_id)
        return
    await show(
        callback,
        tr("cancelled_ok", title=result.title, when=tr.when(result.starts_at, svc.tz)),
        rows([my_list_button(tr)]),
    )
    await callback.answer()


@router.callback_query(MyCb.filter(F.act == MyAct.MOVE))
async def on_move(
    callback: CallbackQuery,
    callback_data: MyCb,
    state: FSMContext,
    tr: Tr,
    svc: BookingService,
    client_id: int,
    settings: Settings,
) -> None:
    """Start moving a booking: the calendar for the same master and duration."""
    booking = await _own_active(callback, tr, svc, client_id, callback_data.id)
    if booking is None:
        return
    if svc.now() > booking.starts_at - settings.cutoff:
        await callback.answer(tr("cutoff_passed", cutoff=tr.delta(settings.cutoff)), show_alert=True)
        return
    await start_move(callback, state, tr=tr, svc=svc, settings=settings, booking=booking, admin=False)


@router.callback_query(RateCb.filter())
async def on_rate(callback: CallbackQuery, callback_data: RateCb, tr: Tr, svc: BookingService, client_id: int) -> None:
    """Store a rating once; a second press (or another client's) is acknowledged, not stored."""
    stars = min(max(callback_data.stars, 1), 5)
    if await svc.rate(callback_data.id, client_id, stars):
        await show(callback, tr("rated", stars="⭐" * stars))
        await callback.answer()
    else:
        await callback.answer(tr("rate_done"), show_alert=True)
