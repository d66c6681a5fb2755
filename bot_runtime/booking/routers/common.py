"""Commands and main-menu buttons that work in any state: /start, /book, /help, /lang, /cancel.

Why they ignore the current state: a user who is lost in the middle of a flow
types /start or taps a menu button; that must always work and must leave no
hold behind.
"""

from __future__ import annotations

from aiogram.filters import Command, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import Message

from bot_runtime.booking.filters import TextIn
from bot_runtime.booking.flow import leave_flow, start_new
from bot_runtime.booking.keyboards import main_menu
from bot_runtime.booking.middlewares import event_user
from bot_runtime.booking.routers.spec import RouterSpec
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.storage.settings import Settings
from bot_runtime.booking.texts import Tr, all_variants

router = RouterSpec("common")


@router.message(CommandStart())
async def on_start(message: Message, state: FSMContext, tr: Tr, svc: BookingService, is_admin: bool) -> None:
    """Greet the user, show the main menu and drop any half-finished flow."""
    user = event_user(message)
    await leave_flow(state, svc, user.id)
    text = tr("welcome", name=user.first_name, company=svc.config.company_name)
    if is_admin:
        text += tr("welcome_admin")
    await message.answer(text, parse_mode="HTML", reply_markup=main_menu(tr, is_admin=is_admin))


@router.message(Command("help"))
async def on_help(message: Message, tr: Tr, is_admin: bool) -> None:
    """List what the bot can do."""
    text = tr("help") + (tr("help_admin") if is_admin else "")
    await message.answer(text, reply_markup=main_menu(tr, is_admin=is_admin))


@router.message(Command("lang"))
@router.message(TextIn(all_variants("btn_lang")))
async def on_lang(message: Message, tr: Tr, svc: BookingService, client_id: int, is_admin: bool) -> None:
    """Switch between Russian and English and redraw the menu in the new language."""
    new = "en" if tr.lang == "ru" else "ru"
    await svc.set_language(client_id, new)
    new_tr = Tr(new)
    await message.answer(new_tr("lang_set"), reply_markup=main_menu(new_tr, is_admin=is_admin))


@router.message(Command("cancel"))
async def on_cancel(message: Message, state: FSMContext, tr: Tr, svc: BookingService, is_admin: bool) -> None:
    """Stop whatever is in progress."""
    stopped = await leave_flow(state, svc, event_user(message).id)
    await message.answer(
        tr("cancelled_action" if stopped else "nothing_to_cancel"), reply_markup=main_menu(tr, is_admin=is_admin)
    )


@router.message(Command("book"))
@router.message(TextIn(all_variants("btn_book")))
async def on_book(
    message: Message,
    state: FSMContext,
    tr: Tr,
    svc: BookingService,
    settings: Settings,
    client_id: int,
    blacklisted: bool,
) -> None:
    """Start a booking."""
    await start_new(message, state, tr=tr, svc=svc, settings=settings, client_id=client_id, blacklisted=blacklisted)
