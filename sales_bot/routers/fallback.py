"""Whatever no other handler took: a stale or forged button, or a message outside any step."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from sales_bot.texts import SalesTr

router = Router(name="fallback")


@router.callback_query()
async def stale_button(query: CallbackQuery, tr: SalesTr) -> None:
    """A button from an old message, one whose step is over, or data we never sent."""
    await query.answer(tr("stale_button"), show_alert=True)


@router.message()
async def anything(message: Message, tr: SalesTr) -> None:
    """A message outside the purchase: point to /start."""
    await message.answer(tr("use_start"))
