"""The owner's panel: how it opens (/admin or the menu button), its first screen, and closing it.

The ``entry`` router has no admin filter, so a client who finds the command
is told the panel is for admins; every other panel router admits only the
owner and the admins they added.
"""

from __future__ import annotations

from aiogram import F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot_runtime.booking.callbacks import AdminAct, AdminCb
from bot_runtime.booking.filters import NoText, TextIn
from bot_runtime.booking.flow import leave_flow
from bot_runtime.booking.keyboards import button, rows
from bot_runtime.booking.middlewares import event_user
from bot_runtime.booking.routers.admin.common import AdminInput, admin_router, cb, day_key, send_screen
from bot_runtime.booking.routers.spec import RouterSpec
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.texts import Html, Tr, all_variants
from bot_runtime.booking.ui import show

entry = RouterSpec("admin-entry")
router = admin_router("admin-menu")


@entry.message(Command("admin"))
@entry.message(TextIn(all_variants("btn_admin")))
async def on_admin(message: Message, state: FSMContext, tr: Tr, svc: BookingService, is_admin: bool) -> None:
    """Open the panel (or explain it is for admins)."""
    if not is_admin:
        await message.answer(tr("not_admin"))
        return
    await leave_flow(state, svc, event_user(message).id)
    await send_screen(message, await menu_screen(tr, svc))


async def menu_screen(tr: Tr, svc: BookingService) -> tuple[str, InlineKeyboardMarkup]:
    """The panel: today's count, pending requests and every section."""
    today = svc.today()
    counts = await svc.panel_counts()
    pending = Html(tr("admin_pending_line", count=counts.pending)) if counts.pending else Html("")
    text = tr("admin_menu", company=svc.config.company_name, today=tr.day(today), count=counts.today, pending=pending)
    pending_label = tr("ab_pending") + (f" ({counts.pending})" if counts.pending else "")
    markup = rows(
        [
            button(tr("ab_today"), cb(AdminAct.DAY, day_key(today))),
            button(tr("ab_week"), cb(AdminAct.WEEK, day_key(today))),
        ],
        [button(tr("ab_book"), cb(AdminAct.BOOK)), button(pending_label, cb(AdminAct.PENDING))],
        [button(tr("ab_services"), cb(AdminAct.SERVICES)), button(tr("ab_masters"), cb(AdminAct.MASTERS))],
        [button(tr("ab_blocks"), cb(AdminAct.BLOCKS)), button(tr("ab_settings"), cb(AdminAct.SETTINGS))],
        [button(tr("ab_clients"), cb(AdminAct.CLIENTS)), button(tr("ab_broadcast"), cb(AdminAct.BROADCAST))],
        [button(tr("ab_stats"), cb(AdminAct.STATS, "30")), button(tr("ab_export"), cb(AdminAct.EXPORT))],
        [button(tr("ab_admins"), cb(AdminAct.ADMINS)), button(tr("btn_close"), cb(AdminAct.CLOSE))],
    )
    return text, markup


@router.callback_query(AdminCb.filter(F.act == AdminAct.MENU))
async def on_menu(callback: CallbackQuery, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Back to the panel, leaving any typed-input state."""
    await state.clear()
    text, markup = await menu_screen(tr, svc)
    await show(callback, text, markup)
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == AdminAct.CLOSE))
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


@router.message(StateFilter(AdminInput), NoText())
async def on_not_text(message: Message, tr: Tr) -> None:
    """A sticker or photo while the bot waits for typed input."""
    await message.answer(tr("not_text"))
