"""What every screen of the owner's panel shares: the admin-only router, typed-input states, button helpers.

Only the owner (``admin_telegram_id``) and the admins they added reach the
panel's handlers (a router-level filter on the ``is_admin`` flag the context
middleware computes from the database on every update, so removing an admin
takes effect at once). Screens edit the panel message in place; typed input
(phone, notes, a broadcast, a setting) is one FSM state per kind, stored in
Redis like every other state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any

from aiogram import BaseMiddleware, F
from aiogram.filters import MagicData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, TelegramObject

from bot_runtime.booking.callbacks import AdminAct, AdminCb
from bot_runtime.booking.domain.parsing import ParseError
from bot_runtime.booking.keyboards import button, rows
from bot_runtime.booking.routers.spec import RouterSpec
from bot_runtime.booking.texts import Tr
from bot_runtime.booking.ui import show


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
        if state is not None and isinstance(callback_data, AdminCb) and callback_data.act != AdminAct.BROADCAST_SEND:
            current = await state.get_state()
            if current is not None and current.startswith("AdminInput:"):
                await state.clear()
        return await handler(event, data)


def admin_router(name: str) -> RouterSpec:
    """Return a router blueprint for one panel screen: admins only, and buttons abandon typed input."""
    spec = RouterSpec(name)
    spec.filter_all(MagicData(F.is_admin))
    spec.callback_middleware(LeaveInputMiddleware)
    return spec


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


def cb(act: AdminAct, value: object = "") -> str:
    """Pack an admin button's data."""
    return AdminCb(act=act, v=str(value)).pack()


def menu_button(tr: Tr) -> InlineKeyboardButton:
    """The "back to the panel" button."""
    return button(tr("btn_menu"), cb(AdminAct.MENU))


def day_key(day: date) -> str:
    """Encode a date for a button."""
    return day.strftime("%Y%m%d")


def parse_day(value: str, fallback: date) -> date:
    """Decode a date from a button, falling back on garbage (a forged or stale button)."""
    try:
        return datetime.strptime(value, "%Y%m%d").date()
    except ValueError:
        return fallback


def int_value(value: str) -> int:
    """Decode an id from a button; garbage becomes 0, which matches nothing."""
    return int(value) if value.isdigit() else 0


async def prompt(callback: CallbackQuery, state: FSMContext, tr: Tr, which: State, text: str, **data: Any) -> None:
    """Ask the owner to type something: set the input state and show the question with a cancel button."""
    await state.set_state(which)
    await state.set_data(data)
    await show(callback, text, rows([button(tr("btn_cancel"), cb(AdminAct.MENU))]))
    await callback.answer()


async def answer_parse_error(message: Message, tr: Tr, exc: ParseError) -> None:
    """Answer typed input that did not parse with the parser's hint (an example of the right format)."""
    await message.answer(tr(exc.hint), parse_mode="HTML")


async def send_screen(message: Message, screen: tuple[str, InlineKeyboardMarkup] | None) -> None:
    """Send a screen as a new message after typed input (the owner's text sits under the old one)."""
    if screen is not None:
        await message.answer(screen[0], parse_mode="HTML", reply_markup=screen[1])
