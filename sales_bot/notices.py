"""Payments as the sales bot applies them: the same ``botpool.commerce.payments.Payments``, plus telling
the buyer when their payment was canceled or expired, with a way to try again, and when they paid an
order they had already canceled (the hold on their money was released).

Only the writer whose conditional update canceled the order (or recorded the release) tells the buyer,
so a duplicate notification or the pending checker never repeats the message.
"""

from __future__ import annotations

import structlog
from aiogram import Bot

from botpool.commerce.payments import Outcome, Payments
from botpool.commerce.yookassa import RemotePayment
from botpool.i18n import N_
from sales_bot import keyboards
from sales_bot.metrics import SalesMetrics
from sales_bot.texts import tr_for

log = structlog.get_logger("sales_bot.payments")
#: Outcomes the buyer is told about, and how.
_TOLD = {Outcome.CANCELED: N_("payment_canceled"), Outcome.RELEASED: N_("payment_released")}


class SalesPayments(Payments):
    """``Payments`` that tells the buyer about a canceled payment or a released one, and counts outcomes."""

    bot: Bot | None = None
    #: Where applied payments are counted (``sales_bot.metrics``); None counts nothing.
    metrics: SalesMetrics | None = None

    async def apply_unknown(self, payment_id: str, detail: str) -> Outcome:
        """Record the unknown payment as ``Payments`` does, and count the report."""
        outcome = await super().apply_unknown(payment_id, detail)
        if self.metrics is not None:
            self.metrics.payment(outcome)
        return outcome

    async def apply(self, remote: RemotePayment) -> Outcome:
        """Apply as ``Payments`` does; a payment this call canceled is told to its buyer."""
        outcome = await super().apply(remote)
        if self.metrics is not None:
            self.metrics.payment(outcome, remote)
        text = _TOLD.get(outcome)
        if text is not None and self.bot is not None and remote.order_id:
            order = await self.orders.get(remote.order_id)
            if order is not None:
                tr = tr_for(order.language)
                try:
                    await self.bot.send_message(order.buyer_telegram_id, tr(text), reply_markup=keyboards.again(tr))
                except Exception as exc:
                    log.warning("could not tell the buyer about their payment", order_id=order.order_id,
                                error=type(exc).__name__)
        return outcome
