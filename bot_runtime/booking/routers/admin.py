"""The owner's panel, part one: menu, schedule, bookings, requests, clients, broadcast, reports, admins, settings.

Only the owner (``admin_telegram_id``) and the admins they added reach these
handlers (a router-level filter on the ``is_admin`` flag the context
middleware computes from the database on every update, so removing an admin
takes effect at once). Screens edit the panel message in place; typed input
(phone, notes, a broadcast, a setting) is one FSM state per kind, stored in
Redis like every other state.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any

from aiogram import BaseMiddleware, Bot, F
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, MagicData, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)

from bot_runtime.booking.callbacks import AdminCb
from bot_runtime.booking.domain.availability import local_instant
from bot_runtime.booking.domain.parsing import (
    MAX_INPUT,
    ParseError,
    normalise_phone,
    parse_minutes,
    parse_offsets,
    parse_telegram_id,
)
from bot_runtime.booking.filters import HasText, NoText, TextIn
from bot_runtime.booking.keyboards import button, rows
from bot_runtime.booking.middlewares import event_user
from bot_runtime.booking.routers.booking import start_move, start_new
from bot_runtime.booking.routers.spec import RouterSpec
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.storage import bookings, clients, outbox, reports
from bot_runtime.booking.storage import settings as settings_repo
from bot_runtime.booking.storage.bookings import Booking
from bot_runtime.booking.storage.settings import INT_SETTINGS, Settings
from bot_runtime.booking.texts import Html, Tr, all_variants, esc, fit
from bot_runtime.booking.ui import send, show

log = logging.getLogger("botpool.booking")

entry = RouterSpec("admin-entry")
router = RouterSpec("admin")
router.filter_all(MagicData(F.is_admin))


class LeaveInputMiddleware(BaseMiddleware):
    """Pressing another panel button abandons typed input, so later text is not misread as that input."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """Clear an AdminInput state unless the button completes it (sending a broadcast)."""
        state: FSMContext | None = data.get("state")
        callback_data = data.get("callback_data")
        if state is not None and isinstance(callback_data, AdminCb) and callback_data.act != "bc_send":
            current = await state.get_state()
            if current is not None and current.startswith("AdminInput:"):
                await state.clear()
        return await handler(event, data)


router.callback_middleware(LeaveInputMiddleware)

BROADCAST_LIMIT = 3500


class AdminInput(StatesGroup):
    """What the owner is typing right now; the target (a client, a setting) is in the FSM data."""

    client_search = State()
    client_phone = State()
    client_notes = State()
    broadcast = State()
    admin_add = State()
    setting = State()
    service_new = State()
    service_field = State()
    master_new = State()
    master_rename = State()
    hours = State()
    breaks = State()
    day_off = State()
    block = State()


def cb(act: str, value: object = "") -> str:
    """Pack an admin button's data."""
    return AdminCb(act=act, v=str(value)).pack()


def menu_button(tr: Tr) -> InlineKeyboardButton:
    """The "back to the panel" button."""
    return button(tr("btn_menu"), cb("menu"))


def day_key(day: date) -> str:
    """Encode a date for a button."""
    return day.strftime("%Y%m%d")


def parse_day(value: str, fallback: date) -> date:
    """Decode a date from a button, falling back on garbage (a forged or stale button)."""
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return fallback


async def prompt(callback: CallbackQuery, state: FSMContext, tr: Tr, which: State, text: str, **data: Any) -> None:
    """Ask the owner to type something: set the input state and show the question with a cancel button."""
    await state.set_state(which)
    await state.set_data(data)
    await show(callback, text, rows([button(tr("btn_cancel"), cb("menu"))]))
    await callback.answer()


# --------------------------------------------------------------------------- menu


@entry.message(Command("admin"))
@entry.message(TextIn(all_variants("btn_admin")))
async def on_admin(message: Message, state: FSMContext, tr: Tr, svc: BookingService, is_admin: bool) -> None:
    """Open the panel (or explain it is for admins)."""
    if not is_admin:
        await message.answer(tr("not_admin"))
        return
    if await state.get_state() is not None:
        data = await state.get_data()
        await svc.release(data.get("hold"), event_user(message).id)
        await state.clear()
    text, markup = await menu_screen(tr, svc)
    await message.answer(text, parse_mode="HTML", reply_markup=markup)


async def menu_screen(tr: Tr, svc: BookingService) -> tuple[str, InlineKeyboardMarkup]:
    """The panel: today's count, pending requests and every section."""
    today = svc.today()
    row = await svc.pool.fetchrow(
        "SELECT count(*) FILTER (WHERE starts_at >= $1 AND starts_at < $2 AND status IN ('pending', 'confirmed'))"
        " AS today, count(*) FILTER (WHERE status = 'pending' AND starts_at > $3) AS pending"
        " FROM bookings WHERE starts_at >= least($1, $3)",
        local_instant(today, 0, svc.tz),
        local_instant(today, 1440, svc.tz),
        svc.now(),
    )
    assert row is not None
    pending = Html(tr("admin_pending_line", count=row["pending"])) if row["pending"] else Html("")
    text = tr("admin_menu", company=svc.config.company_name, today=tr.day(today), count=row["today"], pending=pending)
    pending_label = tr("ab_pending") + (f" ({row['pending']})" if row["pending"] else "")
    markup = rows(
        [button(tr("ab_today"), cb("day", day_key(today))), button(tr("ab_week"), cb("week", day_key(today)))],
        [button(tr("ab_book"), cb("book")), button(pending_label, cb("pend"))],
        [button(tr("ab_services"), cb("svcs")), button(tr("ab_masters"), cb("ms"))],
        [button(tr("ab_blocks"), cb("blocks")), button(tr("ab_settings"), cb("set"))],
        [button(tr("ab_clients"), cb("cls")), button(tr("ab_broadcast"), cb("bc"))],
        [button(tr("ab_stats"), cb("stats", "30")), button(tr("ab_export"), cb("csv"))],
        [button(tr("ab_admins"), cb("adm")), button(tr("btn_close"), cb("close"))],
    )
    return text, markup


@router.callback_query(AdminCb.filter(F.act == "menu"))
async def on_menu(callback: CallbackQuery, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Back to the panel, leaving any typed-input state."""
    await state.clear()
    text, markup = await menu_screen(tr, svc)
    await show(callback, text, markup)
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == "close"))
async def on_close(callback: CallbackQuery, state: FSMContext, tr: Tr) -> None:
    """Close the panel message."""
    await state.clear()
    message = callback.message
    if isinstance(message, Message):
        try:
            await message.delete()
        except TelegramBadRequest:
            await show(callback, tr("cancelled_action"))
    await callback.answer()


# --------------------------------------------------------------------------- schedule


def _mark(tr: Tr, booking: Booking) -> str:
    return {"pending": tr("mark_pending"), "no_show": tr("mark_no_show")}.get(booking.status, "")


@router.callback_query(AdminCb.filter(F.act == "day"))
async def on_day(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """One day's schedule by master, each booking a button."""
    day = parse_day(callback_data.v, svc.today())
    items = await bookings.between(svc.pool, local_instant(day, 0, svc.tz), local_instant(day, 1440, svc.tz))
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
        button(f"{tr.time(b.starts_at, svc.tz)} {b.master_name[:10]} · {(b.client_name or '?')[:16]}", cb("bk", b.id))
        for b in items[:40]
    ]
    grid = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    nav = [
        button("◀️", cb("day", day_key(day - timedelta(days=1)))),
        button(tr("ab_week"), cb("week", day_key(day))),
        button("▶️", cb("day", day_key(day + timedelta(days=1)))),
    ]
    await show(callback, "\n".join(lines), rows(*grid, nav, [menu_button(tr)]))
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == "week"))
async def on_week(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Seven days from Monday: counts per day and the bookings, days as buttons."""
    day = parse_day(callback_data.v, svc.today())
    monday = day - timedelta(days=day.weekday())
    sunday = monday + timedelta(days=6)
    items = await bookings.between(svc.pool, local_instant(monday, 0, svc.tz), local_instant(sunday, 1440, svc.tz))
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
        button(f"{names[i]} {len(per_day[monday + timedelta(days=i)])}", cb("day", day_key(monday + timedelta(days=i))))
        for i in range(7)
    ]
    nav = [
        button("◀️", cb("week", day_key(monday - timedelta(days=7)))),
        button("▶️", cb("week", day_key(monday + timedelta(days=7)))),
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
        actions.append(button(tr("btn_no_show"), cb("noshow", booking.id)))
    if booking.active and booking.starts_at > now:
        actions.append(button(tr("btn_admin_move"), cb("amove", booking.id)))
        actions.append(button(tr("btn_admin_cancel"), cb("acancel", booking.id)))
    if booking.status == "pending":
        actions = [
            button(tr("btn_approve"), cb("appr", booking.id)),
            button(tr("btn_decline"), cb("decl", booking.id)),
            *actions[:1],
        ]
    local_day = booking.starts_at.astimezone(svc.tz).date()
    extra = [button(tr("btn_client_card"), cb("cl", booking.client_id))] if booking.client_id else []
    return text, rows(actions, extra, [button(tr("btn_back"), cb("day", day_key(local_day))), menu_button(tr)])


async def _booking_or_gone(callback: CallbackQuery, tr: Tr, svc: BookingService, value: str) -> Booking | None:
    booking = await bookings.get(svc.pool, int(value)) if value.isdigit() else None
    if booking is None or booking.status == "held":
        await callback.answer(tr("booking_gone"), show_alert=True)
        return None
    return booking


@router.callback_query(AdminCb.filter(F.act.in_({"bk", "bkn"})))
async def on_booking(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Open a booking card: in place from the schedule, as a new message from an alert ("bkn").

    Alerts stay as the owner's log of events, so opening one must not overwrite it.
    """
    booking = await _booking_or_gone(callback, tr, svc, callback_data.v)
    if booking is None:
        return
    text, markup = await booking_screen(tr, svc, booking)
    if callback_data.act == "bkn":
        await send(callback, text, markup)
    else:
        await show(callback, text, markup)
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == "noshow"))
async def on_no_show(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Mark a started confirmed booking as a no-show."""
    booking = await _booking_or_gone(callback, tr, svc, callback_data.v)
    if booking is None:
        return
    marked = await bookings.mark_no_show(svc.pool, booking.id, svc.now())
    if marked is None:
        await callback.answer(tr("no_show_not_yet"), show_alert=True)
        return
    text, markup = await booking_screen(tr, svc, marked)
    await show(callback, text, markup)
    await callback.answer(tr("no_show_marked"))


@router.callback_query(AdminCb.filter(F.act == "acancel"))
async def on_admin_cancel(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Ask before cancelling a booking on the salon's side."""
    booking = await _booking_or_gone(callback, tr, svc, callback_data.v)
    if booking is None:
        return
    markup = rows(
        [button(tr("btn_yes_cancel"), cb("acancel_yes", booking.id)), button(tr("btn_keep"), cb("bk", booking.id))]
    )
    await show(callback, tr("admin_ask_cancel", id=booking.id), markup)
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == "acancel_yes"))
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
        rows([button(tr("btn_back"), cb("day", day_key(day))), menu_button(tr)]),
    )
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == "amove"))
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


@router.callback_query(AdminCb.filter(F.act == "book"))
async def on_manual_booking(
    callback: CallbackQuery, state: FSMContext, tr: Tr, svc: BookingService, settings: Settings, client_id: int
) -> None:
    """Book a client who called or walked in: the booking flow in the owner's mode."""
    await start_new(
        callback, state, tr=tr, svc=svc, settings=settings, client_id=client_id, blacklisted=False, admin=True
    )
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == "pend"))
async def on_pending(callback: CallbackQuery, tr: Tr, svc: BookingService) -> None:
    """Requests waiting for approval, each with approve/decline."""
    items = await bookings.pending(svc.pool, svc.now())
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
                button(f"✅ #{b.id}", cb("appr", b.id)),
                button(f"❌ #{b.id}", cb("decl", b.id)),
                button(f"📋 #{b.id}", cb("bk", b.id)),
            ]
        )
    await show(callback, "\n".join(lines), rows(*grid, [menu_button(tr)]))
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act.in_({"appr", "decl"})))
async def on_decide(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService, bot: Bot) -> None:
    """Approve or decline a request; a second admin pressing the same alert is told it is handled."""
    approve = callback_data.act == "appr"
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


# --------------------------------------------------------------------------- clients


async def client_screen(tr: Tr, svc: BookingService, client_id: int) -> tuple[str, InlineKeyboardMarkup] | None:
    """A client card: contact, notes, totals and the last visits."""
    client = await clients.get(svc.pool, client_id)
    if client is None:
        return None
    stats = await clients.stats(svc.pool, client_id, svc.now())
    history = await bookings.history_for_client(svc.pool, client_id, limit=10)
    lines = [
        tr(
            "history_line",
            when=tr.when(b.starts_at, svc.tz),
            title=b.title,
            master=b.master_name,
            status=tr.status(b.status),
        )
        for b in history
    ]
    text = tr(
        "client_card",
        name=client.name or "?",
        username=f" @{client.username}" if client.username else "",
        phone=client.phone or tr("no_phone"),
        notes=client.notes or tr("no_notes"),
        visits=stats.visits,
        upcoming=stats.upcoming,
        cancelled=stats.cancelled,
        no_shows=stats.no_shows,
        spent=tr.price(stats.spent) if stats.spent else "0",
        blacklisted=Html(tr("client_blacklisted")) if client.blacklisted else Html(""),
        history=Html("\n".join(lines) or esc(tr("none"))),
    )
    markup = rows(
        [button(tr("btn_phone"), cb("cl_phone", client.id)), button(tr("btn_notes"), cb("cl_notes", client.id))],
        [button(tr("btn_unblacklist" if client.blacklisted else "btn_blacklist"), cb("cl_black", client.id))],
        [button(tr("btn_back"), cb("cls")), menu_button(tr)],
    )
    return text, markup


def _client_buttons(found: list[clients.Client]) -> list[list[InlineKeyboardButton]]:
    return [[button(f"{c.name or '?'}" + (f" · {c.phone}" if c.phone else ""), cb("cl", c.id))] for c in found]


@router.callback_query(AdminCb.filter(F.act == "cls"))
async def on_clients(callback: CallbackQuery, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Recent clients, and typing a name or phone searches."""
    recent = await clients.recent(svc.pool)
    await state.set_state(AdminInput.client_search)
    await show(callback, tr("clients_title"), rows(*_client_buttons(recent), [menu_button(tr)]))
    await callback.answer()


@router.message(StateFilter(AdminInput.client_search), HasText())
async def on_client_search(message: Message, tr: Tr, svc: BookingService) -> None:
    """Search clients by what the owner typed."""
    query = (message.text or "")[:64]
    found = await clients.search(svc.pool, query)
    key = "clients_found" if found else "clients_none"
    await message.answer(
        tr(key, query=query), parse_mode="HTML", reply_markup=rows(*_client_buttons(found), [menu_button(tr)])
    )


@router.callback_query(AdminCb.filter(F.act == "cl"))
async def on_client(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Open a client card."""
    screen = await client_screen(tr, svc, int(callback_data.v)) if callback_data.v.isdigit() else None
    if screen is None:
        await callback.answer(tr("booking_gone"), show_alert=True)
        return
    await show(callback, *screen)
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == "cl_black"))
async def on_blacklist(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Forbid or allow online booking for a client."""
    client = await clients.get(svc.pool, int(callback_data.v)) if callback_data.v.isdigit() else None
    if client is None:
        await callback.answer(tr("booking_gone"), show_alert=True)
        return
    await clients.set_blacklisted(svc.pool, client.id, not client.blacklisted)
    screen = await client_screen(tr, svc, client.id)
    assert screen is not None
    await show(callback, *screen)
    await callback.answer(tr("client_saved"))


@router.callback_query(AdminCb.filter(F.act.in_({"cl_phone", "cl_notes"})))
async def on_client_edit(callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr) -> None:
    """Ask for a client's phone or notes."""
    if not callback_data.v.isdigit():
        await callback.answer(tr("booking_gone"), show_alert=True)
        return
    phone = callback_data.act == "cl_phone"
    await prompt(
        callback,
        state,
        tr,
        AdminInput.client_phone if phone else AdminInput.client_notes,
        tr("ask_phone" if phone else "ask_notes"),
        target=int(callback_data.v),
    )


@router.message(StateFilter(AdminInput.client_phone), HasText())
async def on_client_phone(message: Message, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Save a client's phone."""
    text = (message.text or "").strip()
    try:
        phone = None if text == "-" else normalise_phone(text)
    except ParseError as exc:
        await message.answer(tr(exc.hint), parse_mode="HTML")
        return
    target = int((await state.get_data())["target"])
    await clients.set_phone(svc.pool, target, phone)
    await state.clear()
    await _send_client(message, tr, svc, target)


@router.message(StateFilter(AdminInput.client_notes), HasText())
async def on_client_notes(message: Message, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Save the owner's notes about a client."""
    text = (message.text or "").strip()
    if len(text) > MAX_INPUT:
        await message.answer(tr("too_long", limit=MAX_INPUT))
        return
    target = int((await state.get_data())["target"])
    await clients.set_notes(svc.pool, target, "" if text == "-" else text)
    await state.clear()
    await _send_client(message, tr, svc, target)


async def _send_client(message: Message, tr: Tr, svc: BookingService, client_id: int) -> None:
    screen = await client_screen(tr, svc, client_id)
    if screen is not None:
        await message.answer(tr("client_saved"))
        await message.answer(screen[0], parse_mode="HTML", reply_markup=screen[1])


# --------------------------------------------------------------------------- broadcast


@router.callback_query(AdminCb.filter(F.act == "bc"))
async def on_broadcast(callback: CallbackQuery, state: FSMContext, tr: Tr) -> None:
    """Ask for the broadcast text."""
    await prompt(callback, state, tr, AdminInput.broadcast, tr("ask_broadcast", limit=BROADCAST_LIMIT))


@router.message(StateFilter(AdminInput.broadcast), HasText())
async def on_broadcast_text(message: Message, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Preview the broadcast and ask to send it."""
    text = (message.text or "").strip()
    if len(text) > BROADCAST_LIMIT:
        await message.answer(tr("too_long", limit=BROADCAST_LIMIT))
        return
    count = await svc.pool.fetchval("SELECT count(*) FROM clients WHERE telegram_id IS NOT NULL AND NOT blocked_bot")
    await state.update_data(text=text)
    preview = Html(tr("broadcast_header", company=svc.config.company_name, text=text))
    await message.answer(
        tr("broadcast_preview", count=count, preview=preview),
        parse_mode="HTML",
        reply_markup=rows([button(tr("btn_send"), cb("bc_send")), button(tr("btn_cancel"), cb("menu"))]),
    )


@router.callback_query(StateFilter(AdminInput.broadcast), AdminCb.filter(F.act == "bc_send"))
async def on_broadcast_send(callback: CallbackQuery, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Queue the broadcast in the outbox; the reminder worker delivers it at Telegram's pace."""
    text = (await state.get_data()).get("text")
    await state.clear()
    if not text:
        await callback.answer(tr("stale_button"), show_alert=True)
        return
    count = await svc.broadcast(text)
    await show(callback, tr("broadcast_queued", count=count), rows([menu_button(tr)]))
    await callback.answer()


# --------------------------------------------------------------------------- analytics and export


@router.callback_query(AdminCb.filter(F.act == "stats"))
async def on_stats(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Bookings, cancellations, no-shows, revenue, load and top services for a period."""
    today = svc.today()
    first = {
        "7": today - timedelta(days=6),
        "m": today.replace(day=1),
        "y": today - timedelta(days=364),
    }.get(callback_data.v, today - timedelta(days=29))
    data = await reports.analytics(svc.pool, first, today, svc.tz, svc.now())
    top = "\n".join(f"{i}. {esc(name)} — {n}" for i, (name, n) in enumerate(data.top_services, 1))
    text = tr(
        "stats_title",
        first=tr.day_short(first),
        last=tr.day_short(today),
        bookings=data.bookings,
        cancelled=data.cancelled,
        no_shows=data.no_shows,
        no_show_pct=round(100 * data.no_shows / data.bookings) if data.bookings else 0,
        revenue=tr.price(data.revenue) if data.revenue else "0",
        expected=tr.price(data.expected) if data.expected else "0",
        load=data.load_percent,
        new_clients=data.new_clients,
        rating=f"{data.rating:.1f} ({data.ratings})" if data.rating is not None else tr("no_ratings"),
        top=Html(top or esc(tr("none"))),
    )
    markup = rows(
        [
            button(tr("btn_7d"), cb("stats", "7")),
            button(tr("btn_30d"), cb("stats", "30")),
            button(tr("btn_month"), cb("stats", "m")),
            button(tr("btn_year"), cb("stats", "y")),
        ],
        [menu_button(tr)],
    )
    await show(callback, text, markup)
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == "csv"))
async def on_export(callback: CallbackQuery, tr: Tr, svc: BookingService, bot: Bot) -> None:
    """Send a CSV of the last year's and the coming quarter's bookings as a document."""
    today = svc.today()
    first, last = today - timedelta(days=365), today + timedelta(days=90)
    payload, count = await reports.export_csv(
        svc.pool, local_instant(first, 0, svc.tz), local_instant(last, 1440, svc.tz), svc.tz
    )
    user = event_user(callback)
    caption = tr("export_caption", first=tr.day_short(first), last=tr.day_short(last), count=count)
    try:
        await bot.send_document(
            user.id, BufferedInputFile(payload, filename=f"bookings-{today:%Y%m%d}.csv"), caption=caption
        )
    except TelegramAPIError as exc:
        log.warning("CSV export not delivered: %s", type(exc).__name__)
        await callback.answer(tr("export_failed"), show_alert=True)
        return
    await callback.answer()


# --------------------------------------------------------------------------- admins


async def admins_screen(tr: Tr, svc: BookingService, *, is_owner: bool) -> tuple[str, InlineKeyboardMarkup]:
    """The owner and the added admins; only the owner gets add/remove buttons."""
    ids = await clients.admin_ids(svc.pool)
    items = "\n".join(f"• <code>{i}</code>" for i in ids) or esc(tr("none"))
    text = tr("admins_title", owner=svc.config.admin_telegram_id, items=Html(items))
    lines: list[list[InlineKeyboardButton]] = []
    if is_owner:
        lines = [[button(f"✖️ {i}", cb("adm_del", i))] for i in ids]
        lines.append([button(tr("btn_add"), cb("adm_add"))])
    lines.append([menu_button(tr)])
    return text, rows(*lines)


@router.callback_query(AdminCb.filter(F.act == "adm"))
async def on_admins(callback: CallbackQuery, tr: Tr, svc: BookingService, is_owner: bool) -> None:
    """Show the admins."""
    await show(callback, *await admins_screen(tr, svc, is_owner=is_owner))
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == "adm_add"))
async def on_admin_add(callback: CallbackQuery, state: FSMContext, tr: Tr, is_owner: bool) -> None:
    """Ask for the new admin's Telegram id (owner only)."""
    if not is_owner:
        await callback.answer(tr("admins_only_owner"), show_alert=True)
        return
    await prompt(callback, state, tr, AdminInput.admin_add, tr("ask_admin"))


@router.message(StateFilter(AdminInput.admin_add), HasText())
async def on_admin_id(message: Message, state: FSMContext, tr: Tr, svc: BookingService, is_owner: bool) -> None:
    """Add the typed id as an admin."""
    if not is_owner:
        await state.clear()
        await message.answer(tr("admins_only_owner"))
        return
    try:
        telegram_id = parse_telegram_id(message.text or "")
    except ParseError as exc:
        await message.answer(tr(exc.hint), parse_mode="HTML")
        return
    await state.clear()
    if telegram_id == svc.config.admin_telegram_id or not await clients.add_admin(
        svc.pool, telegram_id, event_user(message).id
    ):
        await message.answer(tr("admin_exists"))
    else:
        await message.answer(tr("admin_added", id=telegram_id))
    text, markup = await admins_screen(tr, svc, is_owner=True)
    await message.answer(text, parse_mode="HTML", reply_markup=markup)


@router.callback_query(AdminCb.filter(F.act == "adm_del"))
async def on_admin_del(
    callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService, is_owner: bool
) -> None:
    """Remove an added admin (owner only)."""
    if not is_owner:
        await callback.answer(tr("admins_only_owner"), show_alert=True)
        return
    removed = callback_data.v.isdigit() and await clients.remove_admin(svc.pool, int(callback_data.v))
    await show(callback, *await admins_screen(tr, svc, is_owner=True))
    if removed:
        await callback.answer(tr("admin_removed", id=callback_data.v))
    else:
        await callback.answer(tr("booking_gone"), show_alert=True)


# --------------------------------------------------------------------------- settings

#: Settings editable by typing: button label key and whether the value is a duration.
SETTING_FIELDS: dict[str, tuple[str, bool]] = {
    "slot_step_min": ("sb_step", True),
    "horizon_days": ("sb_horizon", False),
    "min_notice_min": ("sb_notice", True),
    "cancel_cutoff_min": ("sb_cutoff", True),
    "hold_min": ("sb_hold", True),
    "rating_after_min": ("sb_rating", True),
    "max_active_per_client": ("sb_max_active", False),
}


async def settings_screen(tr: Tr, svc: BookingService) -> tuple[str, InlineKeyboardMarkup]:
    """All booking rules with a button for each."""
    s = await settings_repo.load(svc.pool)
    reminders = ", ".join(tr.duration(m) for m in s.reminder_offsets_min) or tr("no")
    text = tr(
        "settings_title",
        step=s.slot_step_min,
        bb=s.buffer_before_min,
        ba=s.buffer_after_min,
        horizon=s.horizon_days,
        notice=tr.duration(s.min_notice_min),
        cutoff=tr.duration(s.cancel_cutoff_min),
        hold=s.hold_min,
        auto=tr("auto_on" if s.auto_confirm else "auto_off"),
        reminders=reminders,
        rating=tr("rating_after", after=tr.duration(s.rating_after_min)) if s.rating_after_min else tr("rating_off"),
        max_active=s.max_active_per_client,
        tz=svc.config.timezone,
    )
    fields = [button(tr(label), cb("set_f", field)) for field, (label, _) in SETTING_FIELDS.items()]
    fields += [
        button(tr("sb_buffers"), cb("set_f", "buffers")),
        button(tr("sb_reminders"), cb("set_f", "reminders")),
        button(tr("sb_auto"), cb("set_auto")),
    ]
    grid = [fields[i : i + 2] for i in range(0, len(fields), 2)]
    return text, rows(*grid, [menu_button(tr)])


@router.callback_query(AdminCb.filter(F.act == "set"))
async def on_settings(callback: CallbackQuery, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Show the booking rules."""
    await state.clear()
    await show(callback, *await settings_screen(tr, svc))
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == "set_auto"))
async def on_settings_auto(callback: CallbackQuery, tr: Tr, svc: BookingService, settings: Settings) -> None:
    """Switch between automatic confirmation and manual approval."""
    await settings_repo.set_auto_confirm(svc.pool, not settings.auto_confirm)
    await show(callback, *await settings_screen(tr, svc))
    await callback.answer(tr("setting_saved"))


@router.callback_query(AdminCb.filter(F.act == "set_f"))
async def on_setting_field(callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr) -> None:
    """Ask for a new value of one setting."""
    field = callback_data.v
    if field == "buffers":
        text = tr("ask_buffers")
    elif field == "reminders":
        text = tr("ask_reminders")
    elif field in SETTING_FIELDS:
        low, high = INT_SETTINGS[field]
        text = tr("ask_setting_minutes" if SETTING_FIELDS[field][1] else "ask_setting_number", low=low, high=high)
    else:
        await callback.answer(tr("stale_button"), show_alert=True)
        return
    await prompt(callback, state, tr, AdminInput.setting, text, field=field)


@router.message(StateFilter(AdminInput.setting), HasText())
async def on_setting_value(message: Message, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Validate and save a setting, then show all settings again."""
    field = (await state.get_data()).get("field", "")
    text = (message.text or "").strip()
    try:
        if field == "buffers":
            parts = text.replace(",", " ").split()
            values = [parse_minutes(p) for p in parts]
            if len(values) != 2:
                raise ParseError("err_minutes")
            for name, value in zip(("buffer_before_min", "buffer_after_min"), values, strict=True):
                await _set_int(svc, name, value)
        elif field == "reminders":
            await settings_repo.set_reminders(svc.pool, parse_offsets(text))
        elif field in SETTING_FIELDS:
            value = parse_minutes(text) if SETTING_FIELDS[field][1] else int(text) if text.isdigit() else -1
            await _set_int(svc, field, value)
        else:
            await state.clear()
            return
    except ParseError as exc:
        await message.answer(tr(exc.hint), parse_mode="HTML")
        return
    except ValueError as exc:
        low, high = INT_SETTINGS.get(str(exc), (0, 0))
        await message.answer(tr("setting_bad", low=low, high=high))
        return
    await state.clear()
    await message.answer(tr("setting_saved"))
    text_out, markup = await settings_screen(tr, svc)
    await message.answer(text_out, parse_mode="HTML", reply_markup=markup)


async def _set_int(svc: BookingService, name: str, value: int) -> None:
    await settings_repo.set_int(svc.pool, name, value)


# --------------------------------------------------------------------------- typed input of the wrong kind


@router.message(StateFilter(AdminInput), NoText())
async def on_not_text(message: Message, tr: Tr) -> None:
    """A sticker or photo while the bot waits for typed input."""
    await message.answer(tr("not_text"))


async def outbox_backlog(svc: BookingService) -> int:
    """Return how many messages wait in the outbox (for diagnostics and tests)."""
    return await outbox.pending_messages(svc.pool)
