"""The last router: whatever nobody else handled gets a helpful answer, never silence.

Why a router and not an error: free text where a button is expected, a
sticker, an unknown command, a huge message or a button from an old message
are normal user behaviour. Each gets a short explanation of what to do next;
every callback query is answered so the client's button stops spinning.
"""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot_runtime.booking.keyboards import main_menu
from bot_runtime.booking.routers.spec import RouterSpec
from bot_runtime.booking.texts import Tr
from bot_runtime.booking.ui import stale

router = RouterSpec("fallback")


@router.message()
async def on_any_message(message: Message, state: FSMContext, tr: Tr, is_admin: bool) -> None:
    """Explain what the bot expects now: a button of the live flow, or a menu choice."""
    text = message.text or ""
    if text.startswith("/"):
        await message.answer(tr("unknown_command"), reply_markup=main_menu(tr, is_admin=is_admin))
        return
    if await state.get_state() is not None:
        await message.answer(tr("fallback_in_flow"))
        return
    await message.answer(tr("fallback_text"), reply_markup=main_menu(tr, is_admin=is_admin))


@router.callback_query()
async def on_any_callback(callback: CallbackQuery, state: FSMContext, tr: Tr) -> None:
    """A button no handler accepts is from an out-of-date message: say so and remove it.

    The live message of a flow in progress keeps its keyboard (only the pressed data was bad).
    """
    live = (await state.get_data()).get("msg") if await state.get_state() is not None else None
    await stale(callback, tr, strip=callback.message is None or callback.message.message_id != live)
