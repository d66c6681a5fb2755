"""Clients: recent ones, search by name or phone, a card with history, phone, notes and the blacklist.

Why typed search: a salon has hundreds of clients and the owner usually
remembers a phone fragment or a name, which one message answers.
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot_runtime.booking.callbacks import AdminAct, AdminCb
from bot_runtime.booking.domain.parsing import MAX_INPUT, ParseError, normalise_phone
from bot_runtime.booking.filters import HasText
from bot_runtime.booking.keyboards import button, rows
from bot_runtime.booking.routers.admin.common import (
    AdminInput,
    admin_router,
    answer_parse_error,
    cb,
    menu_button,
    prompt,
    send_screen,
)
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.storage.clients import Client
from bot_runtime.booking.texts import Html, Tr, esc
from bot_runtime.booking.ui import show

router = admin_router("admin-clients")


async def client_screen(tr: Tr, svc: BookingService, client_id: int) -> tuple[str, InlineKeyboardMarkup] | None:
    """A client card: contact, notes, totals and the last visits."""
    card = await svc.client_card(client_id)
    if card is None:
        return None
    client, stats, history = card.client, card.stats, card.history
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
        [
            button(tr("btn_phone"), cb(AdminAct.CLIENT_PHONE, client.id)),
            button(tr("btn_notes"), cb(AdminAct.CLIENT_NOTES, client.id)),
        ],
        [
            button(
                tr("btn_unblacklist" if client.blacklisted else "btn_blacklist"),
                cb(AdminAct.CLIENT_BLACKLIST, client.id),
            )
        ],
        [button(tr("btn_back"), cb(AdminAct.CLIENTS)), menu_button(tr)],
    )
    return text, markup


def _client_buttons(found: list[Client]) -> list[list[InlineKeyboardButton]]:
    """One button per client: name and phone, opening the card."""
    return [
        [button(f"{c.name or '?'}" + (f" · {c.phone}" if c.phone else ""), cb(AdminAct.CLIENT, c.id))] for c in found
    ]


@router.callback_query(AdminCb.filter(F.act == AdminAct.CLIENTS))
async def on_clients(callback: CallbackQuery, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Recent clients, and typing a name or phone searches."""
    recent = await svc.recent_clients()
    await state.set_state(AdminInput.client_search)
    await show(callback, tr("clients_title"), rows(*_client_buttons(recent), [menu_button(tr)]))
    await callback.answer()


@router.message(StateFilter(AdminInput.client_search), HasText())
async def on_client_search(message: Message, tr: Tr, svc: BookingService) -> None:
    """Search clients by what the owner typed."""
    query = (message.text or "")[:64]
    found = await svc.find_clients(query)
    key = "clients_found" if found else "clients_none"
    await message.answer(
        tr(key, query=query), parse_mode="HTML", reply_markup=rows(*_client_buttons(found), [menu_button(tr)])
    )


@router.callback_query(AdminCb.filter(F.act == AdminAct.CLIENT))
async def on_client(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Open a client card."""
    screen = await client_screen(tr, svc, int(callback_data.v)) if callback_data.v.isdigit() else None
    if screen is None:
        await callback.answer(tr("booking_gone"), show_alert=True)
        return
    await show(callback, *screen)
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == AdminAct.CLIENT_BLACKLIST))
async def on_blacklist(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Forbid or allow online booking for a client."""
    card = await svc.client_card(int(callback_data.v)) if callback_data.v.isdigit() else None
    if card is None:
        await callback.answer(tr("booking_gone"), show_alert=True)
        return
    client = card.client
    await svc.set_blacklisted(client.id, not client.blacklisted)
    screen = await client_screen(tr, svc, client.id)
    assert screen is not None
    await show(callback, *screen)
    await callback.answer(tr("client_saved"))


@router.callback_query(AdminCb.filter(F.act.in_({AdminAct.CLIENT_PHONE, AdminAct.CLIENT_NOTES})))
async def on_client_edit(callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr) -> None:
    """Ask for a client's phone or notes."""
    if not callback_data.v.isdigit():
        await callback.answer(tr("booking_gone"), show_alert=True)
        return
    phone = callback_data.act == AdminAct.CLIENT_PHONE
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
        await answer_parse_error(message, tr, exc)
        return
    target = int((await state.get_data())["target"])
    await svc.set_client_phone(target, phone)
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
    await svc.set_client_notes(target, "" if text == "-" else text)
    await state.clear()
    await _send_client(message, tr, svc, target)


async def _send_client(message: Message, tr: Tr, svc: BookingService, client_id: int) -> None:
    """Confirm the save and show the card again below the owner's text."""
    screen = await client_screen(tr, svc, client_id)
    if screen is not None:
        await message.answer(tr("client_saved"))
        await send_screen(message, screen)
