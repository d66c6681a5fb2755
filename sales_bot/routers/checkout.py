"""Confirm, pay, cancel: the YooKassa payment is created (or found again) through ``botpool.commerce``.

"Pay" is safe to tap any number of times: the payment's Idempotence-Key comes from the order, so every
tap shows the same payment. The checkout link is a URL button; it is never logged.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from botpool.commerce.orders import OrderStatus
from botpool.commerce.payments import CheckoutError
from botpool.commerce.yookassa import PaymentGatewayError
from sales_bot import keyboards
from sales_bot.callbacks import Act, SaleCb
from sales_bot.context import Sales
from sales_bot.routers.flow import own_order
from sales_bot.states import Buy
from sales_bot.texts import STATUS, SalesTr

router = Router(name="checkout")


async def show_payment(message: Message, state: FSMContext, sales: Sales, tr: SalesTr, order_id: str) -> None:
    """Create or fetch the order's payment and show the checkout button (or where the order stands)."""
    try:
        checkout = await sales.payments.checkout(order_id)
    except CheckoutError:
        await message.answer(tr("checkout_incomplete"))
        return
    except PaymentGatewayError:
        await message.answer(tr("payment_unavailable"))
        return
    order = checkout.order
    if checkout.confirmation_url:
        await state.set_state(Buy.confirm)
        await state.update_data(order_id=order.order_id)
        amount = tr.money(order.amount_kopecks, order.currency)
        await message.answer(
            tr("pay_here", amount=amount),
            reply_markup=keyboards.pay_link(tr, checkout.confirmation_url, amount, order.order_id),
        )
        return
    await state.clear()
    markup = keyboards.again(tr) if order.status is OrderStatus.CANCELED else None
    await message.answer(tr(STATUS[order.status], username=order.bot_username or ""), reply_markup=markup)


@router.callback_query(SaleCb.filter(F.act == Act.PAY))
async def pay(query: CallbackQuery, callback_data: SaleCb, state: FSMContext, sales: Sales, tr: SalesTr) -> None:
    """The buyer taps "pay"."""
    order = await own_order(sales, query.from_user.id, callback_data.v)
    if order is None or not isinstance(query.message, Message):
        await query.answer(tr("stale_button"), show_alert=True)
        return
    await query.answer()
    await show_payment(query.message, state, sales, tr, order.order_id)


@router.callback_query(SaleCb.filter(F.act == Act.CANCEL))
async def cancel(query: CallbackQuery, callback_data: SaleCb, state: FSMContext, sales: Sales, tr: SalesTr) -> None:
    """The buyer cancels an unpaid order (a paid one cannot be canceled here)."""
    order = await own_order(sales, query.from_user.id, callback_data.v)
    if order is None or not isinstance(query.message, Message):
        await query.answer(tr("stale_button"), show_alert=True)
        return
    await query.answer()
    if order.payment_id:
        # The buyer may have paid a moment ago: believe YooKassa, not the button.
        try:
            await sales.payments.refresh(order.payment_id)
        except PaymentGatewayError:
            await query.message.answer(tr("payment_unavailable"))
            return
    if await sales.orders.cancel(order.order_id, "buyer_canceled"):
        await state.clear()
        await query.message.answer(tr("canceled_by_buyer"), reply_markup=keyboards.again(tr))
        return
    fresh = await sales.orders.get(order.order_id) or order
    await query.message.answer(tr(STATUS[fresh.status], username=fresh.bot_username or ""))


@router.message(Buy.confirm)
async def waiting(message: Message, state: FSMContext, sales: Sales, tr: SalesTr) -> None:
    """Anything typed while the order waits for payment: where it stands, with the buttons again."""
    data = await state.get_data()
    assert message.from_user is not None
    order = await own_order(sales, message.from_user.id, str(data.get("order_id", "")))
    if order is None:
        await state.clear()
        await message.answer(tr("no_order"))
        return
    if order.status is OrderStatus.DRAFT:
        await message.answer(tr("press_pay"), reply_markup=keyboards.confirm(tr, order.order_id))
        return
    await show_payment(message, state, sales, tr, order.order_id)
