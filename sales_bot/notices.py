"""Payments as the sales bot applies them: the same ``botpool.commerce.payments.Payments``, plus telling
the buyer when their payment was canceled or expired, with a way to try again.

Only the writer whose conditional update canceled the order tells the buyer, so a duplicate
notification or the pending checker never repeats the message.
"""

from __future__ import annotations

import structlog
from aiogram import Bot

from botpool.commerce.payments import Outcome, Payments
from botpool.commerce.yookassa import RemotePayment
from sales_bot import keyboards
from sales_bot.texts import tr_for

log = structlog.get_logger("sales_bot.payments")


class SalesPayments(Payments):
    """``Payments`` that tells the buyer about a canceled payment."""

    bot: Bot | None = None

    async def apply(self, remote: RemotePayment) -> Outcome:
        """Apply as ``Payments`` does; a payment this call canceled is told to its buyer."""
        outcome = await super().apply(remote)
        if outcome is Outcome.CANCELED and self.bot is not None and remote.order_id:
            order = await self.orders.get(remote.order_id)
            if order is not None:
                tr = tr_for(order.language)
                try:
                    await self.bot.send_message(
                        order.buyer_telegram_id, tr("payment_canceled"), reply_markup=keyboards.again(tr)
                    )
                except Exception as exc:
                    log.warning("could not tell the buyer about a canceled payment", order_id=order.order_id,
                                error=type(exc).__name__)
        return outcome
