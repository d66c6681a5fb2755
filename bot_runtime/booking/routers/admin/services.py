"""The catalogue of services: list, add in one line, edit each field, hide from clients.

Why one line for a new service: "Haircut; 60; 1500-2500; Hair" is one
message on a phone; the parser accepts Russian and English and answers a
wrong format with an example.
"""

from __future__ import annotations

from typing import Any

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot_runtime.booking.callbacks import AdminAct, AdminCb
from bot_runtime.booking.domain.parsing import ParseError, parse_minutes, parse_name, parse_price, parse_service
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
from bot_runtime.booking.texts import Tr
from bot_runtime.booking.ui import show, show_or_stale

router = admin_router("admin-services")


async def services_screen(tr: Tr, svc: BookingService) -> tuple[str, InlineKeyboardMarkup]:
    """All services, hidden ones marked, plus "add"."""
    services = await svc.all_services()
    lines = [
        [button(("" if s.active else "❌ ") + f"{s.name} · {tr.duration(s.duration_min)}", cb(AdminAct.SERVICE, s.id))]
        for s in services
    ]
    text = tr("services_title") + ("\n" + tr("services_empty") if not services else "")
    return text, rows(*lines, [button(tr("btn_add"), cb(AdminAct.SERVICE_ADD)), menu_button(tr)])


async def service_screen(tr: Tr, svc: BookingService, service_id: int) -> tuple[str, InlineKeyboardMarkup] | None:
    """One service with its edit buttons."""
    s = await svc.service(service_id)
    if s is None:
        return None
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
            button(tr("btn_rename"), cb(AdminAct.SERVICE_FIELD, f"{s.id}.name")),
            button(tr("btn_duration"), cb(AdminAct.SERVICE_FIELD, f"{s.id}.duration")),
        ],
        [
            button(tr("btn_price"), cb(AdminAct.SERVICE_FIELD, f"{s.id}.price")),
            button(tr("btn_category"), cb(AdminAct.SERVICE_FIELD, f"{s.id}.category")),
        ],
        [button(tr("btn_hide" if s.active else "btn_show"), cb(AdminAct.SERVICE_TOGGLE, s.id))],
        [button(tr("btn_back"), cb(AdminAct.SERVICES)), menu_button(tr)],
    )
    return text, markup


@router.callback_query(AdminCb.filter(F.act == AdminAct.SERVICES))
async def on_services(callback: CallbackQuery, tr: Tr, svc: BookingService) -> None:
    """Show the services."""
    await show(callback, *await services_screen(tr, svc))
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == AdminAct.SERVICE))
async def on_service(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Open a service."""
    await show_or_stale(callback, tr, await service_screen(tr, svc, int_value(callback_data.v)))


@router.callback_query(AdminCb.filter(F.act == AdminAct.SERVICE_TOGGLE))
async def on_service_toggle(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Hide a service from clients or show it again (existing bookings are untouched)."""
    found = await svc.service(int_value(callback_data.v))
    if found is None:
        await callback.answer(tr("stale_button"), show_alert=True)
        return
    await svc.update_service(found.id, active=not found.active)
    screen = await service_screen(tr, svc, found.id)
    assert screen is not None
    await show(callback, *screen)
    await callback.answer(tr("service_saved"))


@router.callback_query(AdminCb.filter(F.act == AdminAct.SERVICE_ADD))
async def on_service_add(callback: CallbackQuery, state: FSMContext, tr: Tr) -> None:
    """Ask for a new service in one line."""
    await prompt(callback, state, tr, AdminInput.service_new, tr("ask_service"))


@router.message(StateFilter(AdminInput.service_new), HasText())
async def on_service_new(message: Message, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Create the typed service."""
    try:
        parsed = parse_service(message.text or "")
    except ParseError as exc:
        await answer_parse_error(message, tr, exc)
        return
    service_id = await svc.add_service(parsed)
    await state.clear()
    await message.answer(tr("service_added", name=parsed.name))
    screen = await service_screen(tr, svc, service_id)
    assert screen is not None
    await send_screen(message, screen)


FIELD_PROMPTS = {"name": "ask_name", "duration": "ask_duration", "price": "ask_price", "category": "ask_category"}


@router.callback_query(AdminCb.filter(F.act == AdminAct.SERVICE_FIELD))
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
        await answer_parse_error(message, tr, exc)
        return
    await svc.update_service(int(data["target"]), **changes)
    await state.clear()
    await message.answer(tr("service_saved"))
    screen = await service_screen(tr, svc, int(data["target"]))
    await send_screen(message, screen)
