"""The smallest useful tenant bot: answers /start with the salon's name.

Used until the booking bot (``bot_runtime.booking``) is wired in, and by the
pool tests that only need to see a tenant's bot answer.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import CommandStart
from aiogram.types import Message


def router(company_name: str) -> Router:
    """A router whose /start greets the client on behalf of ``company_name``."""
    r = Router(name="starter")

    @r.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer(f"Здравствуйте! Это бот «{company_name}». / Hello from {company_name}!")

    return r
