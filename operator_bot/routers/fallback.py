"""Whatever no other handler took: a stale or forged button, or a message that is not a command."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from operator_bot.texts import OperatorTr

router = Router(name="fallback")


@router.callback_query()
async def stale_button(query: CallbackQuery, tr: OperatorTr) -> None:
    """A button from an old message, or data we never sent."""
    await query.answer(tr("stale_button"), show_alert=True)


@router.message()
async def anything(message: Message, tr: OperatorTr) -> None:
    """Anything else: the list of commands."""
    await message.answer(tr("help"))
