"""Moving a buyer to the next step their order needs: shared by every router, so a conversation resumed
after a restart, a stale /start or a "continue" tap always lands on the same step for the same order.
"""

from __future__ import annotations

import functools

from aiogram import Bot
from aiogram.fsm.context import FSMContext
from aiogram.types import ReplyKeyboardRemove

from botpool.commerce.orders import Order, OrderStatus
from sales_bot import keyboards
from sales_bot.context import Sales
from sales_bot.states import Buy
from sales_bot.texts import STATUS, SalesTr


async def own_order(sales: Sales, buyer_id: int, order_id: str) -> Order | None:
    """The order a button names, only if it is this buyer's (a forged or foreign id gets None)."""
    order = await sales.orders.get(order_id) if order_id.startswith("o_") and len(order_id) <= 48 else None
    return order if order is not None and order.buyer_telegram_id == buyer_id else None


async def next_step(bot: Bot, chat_id: int, state: FSMContext, tr: SalesTr, order: Order) -> None:
    """Ask for whatever the order still lacks, or show the summary with "pay"."""
    send = functools.partial(bot.send_message, chat_id)
    await state.update_data(order_id=order.order_id)
    if order.status is OrderStatus.AWAITING_PAYMENT:
        await state.set_state(Buy.confirm)
        await send(tr("awaiting_payment"), reply_markup=keyboards.open_order(tr, order.order_id))
    elif order.status is not OrderStatus.DRAFT:
        await state.clear()
        await send(tr(STATUS[order.status], username=order.bot_username or ""))
    elif not order.bot_id:
        await state.set_state(Buy.bot)
        await send(tr("ask_bot"), reply_markup=keyboards.get_bot(tr))
    elif not order.company_name:
        await state.set_state(Buy.company)
        await send(tr("ask_company", username=order.bot_username or ""), reply_markup=ReplyKeyboardRemove())
    elif not order.timezone:
        await state.set_state(Buy.timezone)
        await send(tr("ask_timezone"), reply_markup=keyboards.zones(tr))
    else:
        await state.set_state(Buy.confirm)
        await send(summary(tr, order), reply_markup=keyboards.confirm(tr, order.order_id))


def summary(tr: SalesTr, order: Order) -> str:
    """The order as the buyer confirms it."""
    return tr(
        "summary", tariff=order.tariff, price=tr.money(order.amount_kopecks, order.currency),
        period=tr.days(order.period_days), username=order.bot_username or "", company=order.company_name or "",
        timezone=order.timezone or "",
    )
