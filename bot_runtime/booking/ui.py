"""Screen helpers shared by the routers: edit a step in place, answer stale buttons.

Why: step-by-step flows edit one message instead of piling up new ones, and
Telegram refuses some edits ("message is not modified", a message too old to
edit); these helpers turn those refusals into the sensible fallback instead
of an error the user would see.
"""

from __future__ import annotations

import contextlib

import structlog
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, ReplyKeyboardMarkup

from bot_runtime.booking.texts import Tr, fit

log = structlog.get_logger("botpool.booking")

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | None


async def show(target: Message | CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> Message:
    """Edit the pressed message in place (callback) or send a new message (text command)."""
    text = fit(text)
    if isinstance(target, CallbackQuery):
        message = target.message
        if isinstance(message, Message):
            try:
                edited = await message.edit_text(text, parse_mode="HTML", reply_markup=markup)
            except TelegramBadRequest as exc:
                if "not modified" in exc.message:
                    return message
                log.info("edit refused; sending a new message", reason=exc.message)
            else:
                return edited if isinstance(edited, Message) else message
        if target.from_user is None:
            raise RuntimeError("callback without a user")
        assert target.bot is not None
        return await target.bot.send_message(target.from_user.id, text, parse_mode="HTML", reply_markup=markup)
    return await target.answer(text, parse_mode="HTML", reply_markup=markup)


async def show_or_stale(
    callback: CallbackQuery, tr: Tr, screen: tuple[str, InlineKeyboardMarkup | None] | None
) -> None:
    """Show an item's screen in place, or say the button is out of date when the item is gone."""
    if screen is None:
        await callback.answer(tr("stale_button"), show_alert=True)
        return
    await show(callback, *screen)
    await callback.answer()


async def send(target: Message | CallbackQuery, text: str, markup: Markup = None) -> Message:
    """Send a new message to the user behind ``target`` (used where an edit would hide news)."""
    if isinstance(target, Message):
        return await target.answer(fit(text), parse_mode="HTML", reply_markup=markup)
    assert target.bot is not None
    assert target.from_user is not None
    return await target.bot.send_message(target.from_user.id, fit(text), parse_mode="HTML", reply_markup=markup)


async def stale(callback: CallbackQuery, tr: Tr, *, strip: bool = True) -> None:
    """Answer a button from an out-of-date message and (``strip``) remove that message's keyboard.

    Callers pass ``strip=False`` when the message is the live step of a flow
    and only the pressed data was wrong, so the user keeps the good buttons.
    """
    message = callback.message
    if strip and isinstance(message, Message) and message.reply_markup is not None:
        # Already gone or too old to edit: the answer below is what matters.
        with contextlib.suppress(TelegramBadRequest):
            await message.edit_reply_markup(reply_markup=None)
    # Answered last, like every other handler: when the user's spinner stops, the screen is final.
    await callback.answer(tr("stale_button"), show_alert=True)


def message_id(callback: CallbackQuery) -> int | None:
    """Return the id of the message a button was pressed under, if Telegram still has it."""
    message = callback.message
    return message.message_id if message is not None else None
