"""What every handler of the sales bot works with, built once by ``app`` and handed in by a middleware."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from aiogram.client.session.base import BaseSession

from botpool.commerce.orders import OrderStore
from botpool.commerce.payments import Payments
from botpool.commerce.tariffs import TariffSettings
from sales_bot.fulfilment import Fulfiller
from sales_bot.tokens import BotTokens


@dataclass(frozen=True)
class Sales:
    """The sales bot's services: orders, payments, tariffs, bot tokens, fulfilment and the Bot API session."""

    orders: OrderStore
    payments: Payments
    tariffs: TariffSettings
    tokens: BotTokens
    fulfiller: Fulfiller
    db: asyncpg.Pool
    #: The session to the configured Bot API server, for ``getMe`` with a buyer's pasted token.
    api_session: BaseSession
