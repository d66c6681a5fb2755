"""Keyboards: the persistent main menu and the inline keyboards of each screen.

Why separate from the routers: the same calendar and time grid serve the
client's booking, the client's move and the owner's manual booking, and the
reminder worker builds rating buttons without importing any router.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot_runtime.booking.callbacks import AdminAct, AdminCb, BookAct, BookCb, MyAct, MyCb, RateCb
from bot_runtime.booking.texts import Tr


def main_menu(tr: Tr, *, is_admin: bool) -> ReplyKeyboardMarkup:
    """The reply keyboard under the input field: book, my bookings, language (and manage)."""
    rows = [[KeyboardButton(text=tr("btn_book")), KeyboardButton(text=tr("btn_my"))]]
    last = [KeyboardButton(text=tr("btn_lang"))]
    if is_admin:
        last.insert(0, KeyboardButton(text=tr("btn_admin")))
    rows.append(last)
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, is_persistent=True)


def button(text: str, data: str) -> InlineKeyboardButton:
    """One inline button."""
    return InlineKeyboardButton(text=text, callback_data=data)


def rows(*lines: Sequence[InlineKeyboardButton]) -> InlineKeyboardMarkup:
    """An inline keyboard from rows of buttons (empty rows are skipped)."""
    return InlineKeyboardMarkup(inline_keyboard=[list(line) for line in lines if line])


def month_calendar(
    tr: Tr,
    year: int,
    month: int,
    room: set[date],
    *,
    today: date,
    prev_month: str | None,
    next_month: str | None,
    back: str,
) -> InlineKeyboardMarkup:
    """A month grid from the current week on: bookable days are buttons, other days "·", blanks pad weeks."""
    noop = BookCb(act=BookAct.NOOP).pack()
    kb: list[list[InlineKeyboardButton]] = [
        [button(tr.month_title(year, month), noop)],
        [button(name, noop) for name in tr.weekday_names()],
    ]
    for week in calendar.Calendar(firstweekday=0).monthdayscalendar(year, month):
        if not any(d and date(year, month, d) >= today for d in week):
            continue  # a week entirely in the past: nothing to show but dots
        line = []
        for day_number in week:
            if day_number == 0:
                line.append(button(" ", noop))
                continue
            day = date(year, month, day_number)
            if day in room:
                line.append(button(str(day_number), BookCb(act=BookAct.DAY, v=day.strftime("%Y%m%d")).pack()))
            else:
                line.append(button("·", noop))
        kb.append(line)
    nav = []
    if prev_month:
        nav.append(button("◀️", BookCb(act=BookAct.MONTH, v=prev_month).pack()))
    if next_month:
        nav.append(button("▶️", BookCb(act=BookAct.MONTH, v=next_month).pack()))
    if nav:
        kb.append(nav)
    kb.append([button(tr("btn_back"), back), button(tr("btn_cancel"), BookCb(act=BookAct.ABORT).pack())])
    return InlineKeyboardMarkup(inline_keyboard=kb)


def epoch_minutes(instant: datetime) -> str:
    """Encode an instant for a slot button: whole minutes since the Unix epoch."""
    return str(int(instant.timestamp()) // 60)


def time_grid(tr: Tr, starts: Sequence[datetime], tz: ZoneInfo) -> InlineKeyboardMarkup:
    """Free start times four to a row, then back/cancel."""
    builder = InlineKeyboardBuilder()
    for start in starts[:88]:
        builder.button(text=tr.time(start, tz), callback_data=BookCb(act=BookAct.SLOT, v=epoch_minutes(start)))
    builder.adjust(4)
    builder.row(
        button(tr("btn_back"), BookCb(act=BookAct.BACK, v="cal").pack()),
        button(tr("btn_cancel"), BookCb(act=BookAct.ABORT).pack()),
    )
    return builder.as_markup()


def rating(booking_id: int) -> dict[str, Any]:
    """Rating buttons as Bot API JSON, so the worker can store them in the outbox or send them."""
    return {
        "inline_keyboard": [
            [
                {"text": "⭐" * stars, "callback_data": RateCb(id=booking_id, stars=stars).pack()}
                for stars in range(1, 6)
            ]
        ]
    }


def alert_markup(tr: Tr, booking_id: int, *, approval: bool) -> dict[str, Any]:
    """Buttons under an owner alert: open the booking, or approve/decline a request."""
    line = [
        {"text": tr("btn_open"), "callback_data": AdminCb(act=AdminAct.BOOKING_NEW_MESSAGE, v=str(booking_id)).pack()}
    ]
    if approval:
        line = [
            {"text": tr("btn_approve"), "callback_data": AdminCb(act=AdminAct.APPROVE, v=str(booking_id)).pack()},
            {"text": tr("btn_decline"), "callback_data": AdminCb(act=AdminAct.DECLINE, v=str(booking_id)).pack()},
        ]
    return {"inline_keyboard": [line]}


def my_list_button(tr: Tr) -> InlineKeyboardButton:
    """The "back to my bookings" button."""
    return button(tr("btn_back"), MyCb(act=MyAct.LIST).pack())
