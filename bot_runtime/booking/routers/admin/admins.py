"""Admins: the owner adds or removes people who may use the panel (only the owner may change the list).

Admin rights are read from the database on every update, so a removal takes
effect at once.
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot_runtime.booking.callbacks import AdminAct, AdminCb
from bot_runtime.booking.domain.parsing import ParseError, parse_telegram_id
from bot_runtime.booking.filters import HasText
from bot_runtime.booking.keyboards import button, rows
from bot_runtime.booking.middlewares import event_user
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
from bot_runtime.booking.texts import Html, Tr, esc
from bot_runtime.booking.ui import show

router = admin_router("admin-admins")


async def admins_screen(tr: Tr, svc: BookingService, *, is_owner: bool) -> tuple[str, InlineKeyboardMarkup]:
    """The owner and the added admins; only the owner gets add/remove buttons."""
    ids = await svc.admin_ids()
    items = "\n".join(f"• <code>{i}</code>" for i in ids) or esc(tr("none"))
    text = tr("admins_title", owner=svc.config.admin_telegram_id, items=Html(items))
    lines: list[list[InlineKeyboardButton]] = []
    if is_owner:
        lines = [[button(f"✖️ {i}", cb(AdminAct.ADMIN_DELETE, i))] for i in ids]
        lines.append([button(tr("btn_add"), cb(AdminAct.ADMIN_ADD))])
    lines.append([menu_button(tr)])
    return text, rows(*lines)


@router.callback_query(AdminCb.filter(F.act == AdminAct.ADMINS))
async def on_admins(callback: CallbackQuery, tr: Tr, svc: BookingService, is_owner: bool) -> None:
    """Show the admins."""
    await show(callback, *await admins_screen(tr, svc, is_owner=is_owner))
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == AdminAct.ADMIN_ADD))
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
        await answer_parse_error(message, tr, exc)
        return
    await state.clear()
    if not await svc.add_admin(telegram_id, event_user(message).id):
        await message.answer(tr("admin_exists"))
    else:
        await message.answer(tr("admin_added", id=telegram_id))
    await send_screen(message, await admins_screen(tr, svc, is_owner=True))


@router.callback_query(AdminCb.filter(F.act == AdminAct.ADMIN_DELETE))
async def on_admin_del(
    callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService, is_owner: bool
) -> None:
    """Remove an added admin (owner only)."""
    if not is_owner:
        await callback.answer(tr("admins_only_owner"), show_alert=True)
        return
    removed = callback_data.v.isdigit() and await svc.remove_admin(int(callback_data.v))
    await show(callback, *await admins_screen(tr, svc, is_owner=True))
    if removed:
        await callback.answer(tr("admin_removed", id=callback_data.v))
    else:
        await callback.answer(tr("booking_gone"), show_alert=True)
