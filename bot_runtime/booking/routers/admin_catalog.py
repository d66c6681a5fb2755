"""The owner's panel, part two: services, masters (their services, hours, breaks, days off) and blocks.

Why typed input for hours and blocks: "Пн-Пт 10:00-19:00" or "15.03
14:00-16:00" is one message on a phone; the parsers in ``domain.parsing``
accept Russian and English and answer a wrong format with an example.
Blocks and days off cancel the bookings inside them and notify those clients
in the same transaction (see ``BookingService.block``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiogram import Bot, F
from aiogram.filters import MagicData, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot_runtime.booking.callbacks import AdminCb
from bot_runtime.booking.domain.parsing import (
    ParseError,
    parse_block,
    parse_minutes,
    parse_name,
    parse_price,
    parse_service,
    parse_weekly,
)
from bot_runtime.booking.filters import HasText
from bot_runtime.booking.keyboards import button, rows
from bot_runtime.booking.routers.admin import AdminInput, LeaveInputMiddleware, cb, menu_button, prompt
from bot_runtime.booking.routers.spec import RouterSpec
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.storage import catalog
from bot_runtime.booking.storage.catalog import TimeOff
from bot_runtime.booking.texts import Html, Tr, esc
from bot_runtime.booking.ui import show, show_or_stale

router = RouterSpec("admin-catalog")
router.filter_all(MagicData(F.is_admin))
router.callback_middleware(LeaveInputMiddleware)


def _int(value: str) -> int:
    return int(value) if value.isdigit() else 0


async def _answer_parse_error(message: Message, tr: Tr, exc: ParseError) -> None:
    await message.answer(tr(exc.hint), parse_mode="HTML")


# --------------------------------------------------------------------------- services


async def services_screen(tr: Tr, svc: BookingService) -> tuple[str, InlineKeyboardMarkup]:
    """All services, hidden ones marked, plus "add"."""
    services = await catalog.list_services(svc.pool)
    lines = [
        [button(("" if s.active else "❌ ") + f"{s.name} · {tr.duration(s.duration_min)}", cb("svc", s.id))]
        for s in services
    ]
    text = tr("services_title") + ("\n" + tr("services_empty") if not services else "")
    return text, rows(*lines, [button(tr("btn_add"), cb("svc_add")), menu_button(tr)])


async def service_screen(tr: Tr, svc: BookingService, service_id: int) -> tuple[str, InlineKeyboardMarkup] | None:
    """One service with its edit buttons."""
    found = await catalog.get_services(svc.pool, [service_id])
    if not found:
        return None
    s = found[0]
    text = tr(
        "service_card",
        name=s.name,
        category=s.category or tr("no_category"),
        duration=tr.duration(s.duration_min),
        price=tr.price(s.price, s.price_max),
        active=tr("service_active" if s.active else "service_inactive"),
    )
    markup = rows(
        [
            button(tr("btn_rename"), cb("svc_f", f"{s.id}.name")),
            button(tr("btn_duration"), cb("svc_f", f"{s.id}.duration")),
        ],
        [
            button(tr("btn_price"), cb("svc_f", f"{s.id}.price")),
            button(tr("btn_category"), cb("svc_f", f"{s.id}.category")),
        ],
        [button(tr("btn_hide" if s.active else "btn_show"), cb("svc_tog", s.id))],
        [button(tr("btn_back"), cb("svcs")), menu_button(tr)],
    )
    return text, markup


@router.callback_query(AdminCb.filter(F.act == "svcs"))
async def on_services(callback: CallbackQuery, tr: Tr, svc: BookingService) -> None:
    """Show the services."""
    await show(callback, *await services_screen(tr, svc))
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == "svc"))
async def on_service(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Open a service."""
    await show_or_stale(callback, tr, await service_screen(tr, svc, _int(callback_data.v)))


@router.callback_query(AdminCb.filter(F.act == "svc_tog"))
async def on_service_toggle(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Hide a service from clients or show it again (existing bookings are untouched)."""
    found = await catalog.get_services(svc.pool, [_int(callback_data.v)])
    if not found:
        await callback.answer(tr("stale_button"), show_alert=True)
        return
    await catalog.update_service(svc.pool, found[0].id, active=not found[0].active)
    screen = await service_screen(tr, svc, found[0].id)
    assert screen is not None
    await show(callback, *screen)
    await callback.answer(tr("service_saved"))


@router.callback_query(AdminCb.filter(F.act == "svc_add"))
async def on_service_add(callback: CallbackQuery, state: FSMContext, tr: Tr) -> None:
    """Ask for a new service in one line."""
    await prompt(callback, state, tr, AdminInput.service_new, tr("ask_service"))


@router.message(StateFilter(AdminInput.service_new), HasText())
async def on_service_new(message: Message, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Create the typed service."""
    try:
        parsed = parse_service(message.text or "")
    except ParseError as exc:
        await _answer_parse_error(message, tr, exc)
        return
    service_id = await catalog.add_service(
        svc.pool, parsed.name, parsed.duration_min, parsed.price, parsed.price_max, parsed.category
    )
    await state.clear()
    await message.answer(tr("service_added", name=parsed.name))
    screen = await service_screen(tr, svc, service_id)
    assert screen is not None
    await message.answer(screen[0], parse_mode="HTML", reply_markup=screen[1])


FIELD_PROMPTS = {"name": "ask_name", "duration": "ask_duration", "price": "ask_price", "category": "ask_category"}


@router.callback_query(AdminCb.filter(F.act == "svc_f"))
async def on_service_field(callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr) -> None:
    """Ask for one field of a service."""
    service, _, field = callback_data.v.partition(".")
    if field not in FIELD_PROMPTS or not service.isdigit():
        await callback.answer(tr("stale_button"), show_alert=True)
        return
    await prompt(
        callback, state, tr, AdminInput.service_field, tr(FIELD_PROMPTS[field]), target=int(service), field=field
    )


@router.message(StateFilter(AdminInput.service_field), HasText())
async def on_service_value(message: Message, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Save one field of a service."""
    data = await state.get_data()
    text = (message.text or "").strip()
    changes: dict[str, Any]
    try:
        if data["field"] == "name":
            changes = {"name": parse_name(text)}
        elif data["field"] == "duration":
            minutes = parse_minutes(text)
            if not 5 <= minutes <= 720:
                raise ParseError("err_duration")
            changes = {"duration_min": minutes}
        elif data["field"] == "price":
            price, price_max = parse_price(text)
            changes = {"price": price, "price_max": price_max}
        else:
            changes = {"category": None if text == "-" else parse_name(text)}
    except ParseError as exc:
        await _answer_parse_error(message, tr, exc)
        return
    await catalog.update_service(svc.pool, int(data["target"]), **changes)
    await state.clear()
    await message.answer(tr("service_saved"))
    screen = await service_screen(tr, svc, int(data["target"]))
    if screen is not None:
        await message.answer(screen[0], parse_mode="HTML", reply_markup=screen[1])


# --------------------------------------------------------------------------- masters


def _ranges(tr: Tr, ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a // 60:02d}:{a % 60:02d}-{b // 60:02d}:{b % 60:02d}" for a, b in ranges)


async def masters_screen(tr: Tr, svc: BookingService) -> tuple[str, InlineKeyboardMarkup]:
    """All masters, inactive ones marked, plus "add"."""
    masters = await catalog.list_masters(svc.pool)
    lines = [[button(("" if m.active else "❌ ") + m.name, cb("m", m.id))] for m in masters]
    text = tr("masters_title") + ("\n" + tr("masters_empty") if not masters else "")
    return text, rows(*lines, [button(tr("btn_add"), cb("m_add")), menu_button(tr)])


async def master_screen(tr: Tr, svc: BookingService, master_id: int) -> tuple[str, InlineKeyboardMarkup] | None:
    """A master's services, weekly hours and breaks, with edit buttons."""
    master = await catalog.get_master(svc.pool, master_id)
    if master is None:
        return None
    service_ids = await catalog.master_service_ids(svc.pool, master_id)
    services = [s.name for s in await catalog.list_services(svc.pool) if s.id in service_ids]
    week = (await catalog.week_rules(svc.pool, [master_id]))[master_id]
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
        [button(tr("btn_services"), cb("m_svcs", master_id)), button(tr("btn_hours"), cb("m_hours", master_id))],
        [button(tr("btn_breaks"), cb("m_breaks", master_id)), button(tr("btn_days_off"), cb("m_off", master_id))],
        [
            button(tr("btn_rename"), cb("m_ren", master_id)),
            button(tr("btn_deactivate" if master.active else "btn_activate"), cb("m_tog", master_id)),
        ],
        [button(tr("btn_back"), cb("ms")), menu_button(tr)],
    )
    return text, markup


async def _send_master(message: Message, tr: Tr, svc: BookingService, master_id: int) -> None:
    screen = await master_screen(tr, svc, master_id)
    if screen is not None:
        await message.answer(screen[0], parse_mode="HTML", reply_markup=screen[1])


@router.callback_query(AdminCb.filter(F.act == "ms"))
async def on_masters(callback: CallbackQuery, tr: Tr, svc: BookingService) -> None:
    """Show the masters."""
    await show(callback, *await masters_screen(tr, svc))
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == "m"))
async def on_master(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Open a master."""
    await show_or_stale(callback, tr, await master_screen(tr, svc, _int(callback_data.v)))


@router.callback_query(AdminCb.filter(F.act == "m_add"))
async def on_master_add(callback: CallbackQuery, state: FSMContext, tr: Tr) -> None:
    """Ask for the new master's name."""
    await prompt(callback, state, tr, AdminInput.master_new, tr("ask_master"))


@router.message(StateFilter(AdminInput.master_new), HasText())
async def on_master_new(message: Message, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Create the master and open their card to set services and hours."""
    try:
        name = parse_name(message.text or "")
    except ParseError as exc:
        await _answer_parse_error(message, tr, exc)
        return
    master_id = await catalog.add_master(svc.pool, name)
    await state.clear()
    await message.answer(tr("master_added", name=name))
    await _send_master(message, tr, svc, master_id)


@router.callback_query(AdminCb.filter(F.act == "m_ren"))
async def on_master_rename(callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr) -> None:
    """Ask for a master's new name."""
    await prompt(callback, state, tr, AdminInput.master_rename, tr("ask_name"), target=_int(callback_data.v))


@router.message(StateFilter(AdminInput.master_rename), HasText())
async def on_master_renamed(message: Message, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Rename a master."""
    try:
        name = parse_name(message.text or "")
    except ParseError as exc:
        await _answer_parse_error(message, tr, exc)
        return
    target = int((await state.get_data())["target"])
    await catalog.update_master(svc.pool, target, name=name)
    await state.clear()
    await message.answer(tr("service_saved"))
    await _send_master(message, tr, svc, target)


@router.callback_query(AdminCb.filter(F.act == "m_tog"))
async def on_master_toggle(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Stop or resume taking bookings for a master (existing bookings stay)."""
    master = await catalog.get_master(svc.pool, _int(callback_data.v))
    if master is None:
        await callback.answer(tr("stale_button"), show_alert=True)
        return
    await catalog.update_master(svc.pool, master.id, active=not master.active)
    screen = await master_screen(tr, svc, master.id)
    assert screen is not None
    await show(callback, *screen)
    await callback.answer(tr("service_saved"))


async def _master_services_screen(
    tr: Tr, svc: BookingService, master_id: int
) -> tuple[str, InlineKeyboardMarkup] | None:
    master = await catalog.get_master(svc.pool, master_id)
    if master is None:
        return None
    linked = await catalog.master_service_ids(svc.pool, master_id)
    lines = [
        [button(("✅ " if s.id in linked else "▫️ ") + s.name, cb("m_svc", f"{master_id}.{s.id}"))]
        for s in await catalog.list_services(svc.pool)
    ]
    return tr("master_services", name=master.name), rows(*lines, [button(tr("btn_back"), cb("m", master_id))])


@router.callback_query(AdminCb.filter(F.act == "m_svcs"))
async def on_master_services(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Tick the services a master performs."""
    await show_or_stale(callback, tr, await _master_services_screen(tr, svc, _int(callback_data.v)))


@router.callback_query(AdminCb.filter(F.act == "m_svc"))
async def on_master_service(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Link or unlink one service."""
    master, _, service = callback_data.v.partition(".")
    if (
        not (master.isdigit() and service.isdigit())
        or await catalog.get_master(svc.pool, int(master)) is None
        or not await catalog.get_services(svc.pool, [int(service)])
    ):
        await callback.answer(tr("stale_button"), show_alert=True)
        return
    await catalog.toggle_master_service(svc.pool, int(master), int(service))
    screen = await _master_services_screen(tr, svc, int(master))
    assert screen is not None
    await show(callback, *screen)
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act.in_({"m_hours", "m_breaks"})))
async def on_master_hours(callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr) -> None:
    """Ask for weekly hours or breaks."""
    hours = callback_data.act == "m_hours"
    await prompt(
        callback,
        state,
        tr,
        AdminInput.hours if hours else AdminInput.breaks,
        tr("ask_hours" if hours else "ask_breaks"),
        target=_int(callback_data.v),
    )


@router.message(StateFilter(AdminInput.hours), HasText())
@router.message(StateFilter(AdminInput.breaks), HasText())
async def on_master_week(message: Message, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Save weekly hours (several ranges make breaks) or breaks."""
    try:
        week = parse_weekly(message.text or "")
    except ParseError as exc:
        await _answer_parse_error(message, tr, exc)
        return
    target = int((await state.get_data())["target"])
    if await catalog.get_master(svc.pool, target) is None:
        await state.clear()
        await message.answer(tr("stale_button"))
        return
    async with svc.pool.acquire() as conn:
        if await state.get_state() == AdminInput.hours.state:
            await catalog.set_hours(conn, target, week)
        else:
            await catalog.set_breaks(conn, target, week)
    await state.clear()
    await message.answer(tr("hours_saved"))
    await _send_master(message, tr, svc, target)


# --------------------------------------------------------------------------- days off and blocks


def _off_text(tr: Tr, svc: BookingService, item: TimeOff) -> str:
    """Describe a block as the owner typed it: "15.03", "15.03–17.03" or "15.03 14:00-16:00"."""
    start = item.starts_at.astimezone(svc.tz)
    end = item.ends_at.astimezone(svc.tz)
    if start.hour == start.minute == 0 and end.hour == end.minute == 0:
        last = end.date() - timedelta(days=1)
        return tr.day_short(start.date()) + (f"–{tr.day_short(last)}" if last > start.date() else "")
    return f"{tr.day_short(start.date())} {start:%H:%M}-{end:%H:%M}"


async def _days_off_screen(tr: Tr, svc: BookingService, master_id: int) -> tuple[str, InlineKeyboardMarkup] | None:
    master = await catalog.get_master(svc.pool, master_id)
    if master is None:
        return None
    items = [i for i in await catalog.upcoming_time_off(svc.pool, svc.now(), master_id) if i.kind == "day_off"]
    text = tr(
        "days_off_title",
        name=master.name,
        items=Html("\n".join("• " + esc(_off_text(tr, svc, i)) for i in items) or esc(tr("none"))),
    )
    lines = [[button(f"✖️ {_off_text(tr, svc, i)}", cb("off_del", f"{i.id}.{master_id}"))] for i in items]
    return text, rows(*lines, [button(tr("btn_back"), cb("m", master_id)), menu_button(tr)])


@router.callback_query(AdminCb.filter(F.act == "m_off"))
async def on_days_off(
    callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr, svc: BookingService
) -> None:
    """A master's coming days off; typing a date or period adds one."""
    master_id = _int(callback_data.v)
    screen = await _days_off_screen(tr, svc, master_id)
    if screen is None:
        await callback.answer(tr("stale_button"), show_alert=True)
        return
    await state.set_state(AdminInput.day_off)
    await state.set_data({"target": master_id})
    await show(callback, *screen)
    await callback.answer()


async def _blocks_screen(tr: Tr, svc: BookingService) -> tuple[str, InlineKeyboardMarkup]:
    items = await catalog.upcoming_time_off(svc.pool, svc.now(), None, limit=30)
    masters = await catalog.list_masters(svc.pool)
    names = {m.id: m.name for m in masters}
    lines = "\n".join(
        tr("off_line", what=_off_text(tr, svc, i), who=names.get(i.master_id or 0, tr("all_masters"))) for i in items
    )
    text = tr("blocks_title", items=Html(lines or esc(tr("blocks_empty"))))
    deletes = [
        [
            button(
                f"✖️ {_off_text(tr, svc, i)} · {names.get(i.master_id or 0, tr('all_masters'))}"[:60],
                cb("off_del", f"{i.id}.0"),
            )
        ]
        for i in items
    ]
    per_master = [button(f"⛔ {m.name}", cb("blk", m.id)) for m in masters if m.active]
    grid: list[list[InlineKeyboardButton]] = [per_master[i : i + 3] for i in range(0, len(per_master), 3)]
    return text, rows(*deletes, [button(tr("btn_block_all"), cb("blk", 0))], *grid, [menu_button(tr)])


@router.callback_query(AdminCb.filter(F.act == "blocks"))
async def on_blocks(callback: CallbackQuery, tr: Tr, svc: BookingService) -> None:
    """Coming blocks and days off, with "block" buttons for everyone or one master."""
    await show(callback, *await _blocks_screen(tr, svc))
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == "blk"))
async def on_block(
    callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr, svc: BookingService
) -> None:
    """Ask what to block."""
    master_id = _int(callback_data.v)
    master = await catalog.get_master(svc.pool, master_id) if master_id else None
    who = master.name if master else tr("all_masters")
    await prompt(callback, state, tr, AdminInput.block, tr("ask_block", who=who), target=master_id)


@router.message(StateFilter(AdminInput.block), HasText())
@router.message(StateFilter(AdminInput.day_off), HasText())
async def on_block_text(message: Message, state: FSMContext, tr: Tr, svc: BookingService, bot: Bot) -> None:
    """Block the typed dates/times, cancel the bookings inside and notify their clients."""
    try:
        block = parse_block(message.text or "", svc.today())
    except ParseError as exc:
        await _answer_parse_error(message, tr, exc)
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
            await message.answer(screen[0], parse_mode="HTML", reply_markup=screen[1])
    else:
        text, markup = await _blocks_screen(tr, svc)
        await message.answer(text, parse_mode="HTML", reply_markup=markup)


@router.callback_query(AdminCb.filter(F.act == "off_del"))
async def on_off_delete(
    callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr, svc: BookingService
) -> None:
    """Remove a block or day off (bookings it cancelled stay cancelled)."""
    item, _, master = callback_data.v.partition(".")
    if not item.isdigit() or not await catalog.delete_time_off(svc.pool, int(item)):
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
