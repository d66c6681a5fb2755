"""/start and /help: what the operator bot can do."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message

from operator_bot.texts import OperatorTr

router = Router(name="start")


@router.message(CommandStart())
@router.message(Command("help"))
async def start(message: Message, tr: OperatorTr) -> None:
    """The list of commands."""
    await message.answer(tr("help"))
