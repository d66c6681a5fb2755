"""/start: the greeting and the tariffs, or the buyer's unpaid order to continue; and the tariff choice."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove

from botpool.commerce.orders import OrderStatus
from sales_bot import keyboards
from sales_bot.callbacks import Act, SaleCb
from sales_bot.context import Sales
from sales_bot.routers.checkout import show_payment
from sales_bot.routers.flow import next_step, own_order
from sales_bot.texts import SalesTr

router = Router(name="start")


@router.message(CommandStart())
async def start(message: Message, state: FSMContext, sales: Sales, tr: SalesTr) -> None:
    """Greet and offer tariffs; a buyer with an unpaid order is offered to continue or cancel it."""
    assert message.from_user is not None
    await state.clear()
    await message.answer(tr("welcome"), reply_markup=ReplyKeyboardRemove())
    pending = await sales.orders.open_for_buyer(message.from_user.id)
    if pending is not None:
        key = "open_order_unpaid" if pending.status is OrderStatus.AWAITING_PAYMENT else "open_order_draft"
        await message.answer(tr(key), reply_markup=keyboards.open_order(tr, pending.order_id))
        return
    await message.answer(tr("pick_tariff"), reply_markup=keyboards.tariffs(tr, sales.tariffs.tariffs))


@router.callback_query(SaleCb.filter(F.act == Act.RESTART))
async def restart(query: CallbackQuery, sales: Sales, tr: SalesTr) -> None:
    """Show the tariffs again (after a cancel or a failure)."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(tr("pick_tariff"), reply_markup=keyboards.tariffs(tr, sales.tariffs.tariffs))


@router.callback_query(SaleCb.filter(F.act == Act.TARIFF))
async def pick_tariff(
    query: CallbackQuery, callback_data: SaleCb, bot: Bot, state: FSMContext, sales: Sales, tr: SalesTr
) -> None:
    """Open (or reuse) the buyer's draft with this tariff and ask for the bot."""
    tariff = sales.tariffs.get(callback_data.v)
    if tariff is None or not isinstance(query.message, Message):
        await query.answer(tr("stale_button"), show_alert=True)
        return
    await query.answer()
    order, created = await sales.orders.open_order(query.from_user.id, tariff, language=tr.lang)
    if not created and order.status is OrderStatus.DRAFT:
        await sales.orders.set_details(order.order_id, tariff=tariff)
        order = await sales.orders.get(order.order_id) or order
    elif not created:
        await query.message.answer(tr("open_order_unpaid"), reply_markup=keyboards.open_order(tr, order.order_id))
        return
    await query.message.answer(tr("tariff_chosen", tariff=tr.tariff(tariff)))
    await next_step(bot, query.from_user.id, state, tr, order)


@router.callback_query(SaleCb.filter(F.act == Act.CONTINUE))
async def continue_order(
    query: CallbackQuery, callback_data: SaleCb, bot: Bot, state: FSMContext, sales: Sales, tr: SalesTr
) -> None:
    """Resume an unpaid order at the step it needs."""
    order = await own_order(sales, query.from_user.id, callback_data.v)
    if order is None or not isinstance(query.message, Message):
        await query.answer(tr("stale_button"), show_alert=True)
        return
    await query.answer()
    if order.status is OrderStatus.AWAITING_PAYMENT:
        await show_payment(query.message, state, sales, tr, order.order_id)
        return
    await next_step(bot, query.from_user.id, state, tr, order)
