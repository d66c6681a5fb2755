"""Broadcast: the owner types a message, sees who gets it, and queues it for the reminder worker to send.

Why queued: Telegram limits how fast a bot may send; the outbox delivers at
that pace and survives a restart, so nobody gets it twice or not at all.
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot_runtime.booking.callbacks import AdminAct, AdminCb
from bot_runtime.booking.filters import HasText
from bot_runtime.booking.keyboards import button, rows
from bot_runtime.booking.routers.admin.common import AdminInput, admin_router, cb, menu_button, prompt
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.texts import Html, Tr
from bot_runtime.booking.ui import show

router = admin_router("admin-broadcast")


BROADCAST_LIMIT = 3500


@router.callback_query(AdminCb.filter(F.act == AdminAct.BROADCAST))
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
    count = await svc.broadcast_audience()
    await state.update_data(text=text)
    preview = Html(tr("broadcast_header", company=svc.config.company_name, text=text))
    await message.answer(
        tr("broadcast_preview", count=count, preview=preview),
        parse_mode="HTML",
        reply_markup=rows(
            [button(tr("btn_send"), cb(AdminAct.BROADCAST_SEND)), button(tr("btn_cancel"), cb(AdminAct.MENU))]
        ),
    )


@router.callback_query(StateFilter(AdminInput.broadcast), AdminCb.filter(F.act == AdminAct.BROADCAST_SEND))
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
