"""Small async filters used instead of bare ``F.text`` magic filters.

Why: aiogram 3.31 runs every non-async filter in a worker thread
(``asyncio.to_thread``), and a bare magic filter such as ``F.text.in_(...)``
is one. Each such check costs a thread hop on every message; with a dozen
text filters in the router tree that dominated the bot's CPU time per
update. These ``Filter`` subclasses are coroutines and run inline.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiogram.filters import Filter
from aiogram.types import Message


class TextIn(Filter):
    """Passes a message whose text is exactly one of ``variants`` (menu buttons in any language)."""

    def __init__(self, variants: Iterable[str]) -> None:
        """Remember the accepted texts."""
        self.variants = frozenset(variants)

    async def __call__(self, message: Message) -> bool:
        """Check the message text."""
        return message.text in self.variants


class HasText(Filter):
    """Passes a message that carries text (not a sticker, photo or contact)."""

    async def __call__(self, message: Message) -> bool:
        """Check that there is text."""
        return message.text is not None


class NoText(Filter):
    """Passes a message without text, to answer "please send text" while typed input is expected."""

    async def __call__(self, message: Message) -> bool:
        """Check that there is no text."""
        return message.text is None
