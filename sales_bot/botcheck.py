"""Checks of a buyer's bot before anything is stored: the token's shape, Telegram's word on it (getMe),
and that the bot does not already serve another live tenant or belong to another order in progress.

A token is checked with ``getMe`` against the configured Bot API server (Telegram, or the stand-in),
never by its length alone (defect 12 of the earlier design).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import asyncpg
from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramUnauthorizedError
from pydantic import SecretStr

from botpool.errors import InvalidTenantSpec
from botpool.i18n import N_
from botpool.tenancy import spec
from botpool.tenancy import store as tenancy_store


class Verdict(enum.StrEnum):
    """Why a bot cannot be used; the bot answers each with its own sentence (``VERDICT``)."""

    MALFORMED = "malformed"
    REJECTED = "rejected"
    UNREACHABLE = "unreachable"
    NOT_A_BOT = "not_a_bot"
    IN_USE = "in_use"


#: What the buyer is told for each verdict.
VERDICT: dict[Verdict, str] = {
    Verdict.MALFORMED: N_("bot_malformed"),
    Verdict.REJECTED: N_("bot_rejected"),
    Verdict.UNREACHABLE: N_("bot_unreachable"),
    Verdict.NOT_A_BOT: N_("bot_not_a_bot"),
    Verdict.IN_USE: N_("bot_in_use"),
}


@dataclass(frozen=True)
class CheckedBot:
    """A bot Telegram accepted: its id, @username and the token (secret)."""

    bot_id: int
    username: str
    token: SecretStr


class BotUnusable(Exception):
    """The buyer's bot cannot be used; ``verdict`` says why (never carries the token)."""

    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"bot unusable: {verdict}")
        self.verdict = verdict


async def check_token(text: str, session: BaseSession) -> CheckedBot:
    """Shape, then getMe through ``session`` (the configured API server); raises ``BotUnusable``."""
    try:
        token = spec.validate_bot_token(text)
    except InvalidTenantSpec:
        raise BotUnusable(Verdict.MALFORMED) from None
    bot = Bot(token.get_secret_value(), session=session)
    try:
        me = await bot.get_me()
    except TelegramUnauthorizedError:
        raise BotUnusable(Verdict.REJECTED) from None
    except (TelegramNetworkError, TelegramAPIError):
        raise BotUnusable(Verdict.UNREACHABLE) from None
    if not me.is_bot or not me.username:
        raise BotUnusable(Verdict.NOT_A_BOT)
    return CheckedBot(me.id, me.username, token)


async def ensure_free(db: asyncpg.Pool, bot_id: int, order_id: str, tenant_id: str) -> None:
    """Raise ``BotUnusable(IN_USE)`` if the bot serves a live tenant or another order in progress claims it
    (an active order is covered by its tenant, which is released when it expires)."""
    schema = tenancy_store.SCHEMA
    busy = await db.fetchval(
        f"""
        SELECT EXISTS (SELECT 1 FROM {schema}.tenants
                       WHERE bot_id = $1 AND status <> 'released' AND tenant_id <> $3)
            OR EXISTS (SELECT 1 FROM {schema}.orders
                       WHERE bot_id = $1 AND order_id <> $2
                         AND status IN ('awaiting_payment', 'paid', 'activating'))
        """,
        bot_id, order_id, tenant_id,
    )
    if busy:
        raise BotUnusable(Verdict.IN_USE)
