"""Renewal: the owner of a running (or paused) bot pays for another period, from ``/renew`` or a reminder.

Only the tenant's owner (its admin's Telegram id) may renew it; a forged or foreign tenant id gets the
same one sentence as an unknown one ("buy anew"), so nothing about other tenants leaks. The owner picks
a period; the renewal order copies everything else from the tenant and goes straight to payment.
Applying it (``botpool.commerce.subscriptions``) extends the same tenant: same bot, data and slot.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from botpool.commerce.orders import OrderStatus
from botpool.commerce.subscriptions import RenewalRefused, Subscriptions
from sales_bot import keyboards
from sales_bot.callbacks import Act, SaleCb
from sales_bot.context import Sales
from sales_bot.routers.checkout import show_payment
from sales_bot.texts import SalesTr

router = Router(name="renew")


@router.message(Command("renew"))
async def renew_command(message: Message, state: FSMContext, sales: Sales, tr: SalesTr) -> None:
    """List the owner's bots with a "renew" button each (or say there is none and how to buy one)."""
    assert message.from_user is not None
    await state.clear()
    owned = await Subscriptions(sales.db).owned(message.from_user.id)
    if not owned:
        await message.answer(tr("renew_none"))
        return
    choices = [
        (t.tenant_id, tr("renew_choice", username=t.bot_username or t.company_name,
                          until=tr.date(t.paid_until, t.timezone)))
        for t in owned
    ]
    await message.answer(tr("renew_pick_bot"), reply_markup=keyboards.renew_choices(tr, choices))


@router.callback_query(SaleCb.filter(F.act == Act.RENEW))
async def renew_bot(query: CallbackQuery, callback_data: SaleCb, sales: Sales, tr: SalesTr) -> None:
    """The owner chose a bot to renew (from ``/renew`` or a reminder): offer the periods."""
    if not isinstance(query.message, Message):
        await query.answer(tr("stale_button"), show_alert=True)
        return
    try:
        tenant = await Subscriptions(sales.db).renewable(callback_data.v, query.from_user.id)
    except RenewalRefused:
        await query.answer()
        await query.message.answer(tr("renew_refused"), reply_markup=keyboards.again(tr))
        return
    await query.answer()
    await query.message.answer(
        tr("renew_pick_tariff", username=tenant.bot_username or "", company=tenant.company_name,
           until=tr.date(tenant.paid_until, tenant.timezone)),
        reply_markup=keyboards.renew_tariffs(tr, sales.tariffs.tariffs, tenant.tenant_id),
    )


@router.callback_query(SaleCb.filter(F.act == Act.RENEW_TARIFF))
async def renew_tariff(
    query: CallbackQuery, callback_data: SaleCb, state: FSMContext, sales: Sales, tr: SalesTr
) -> None:
    """Open the renewal order for the chosen period and show its payment (or the open order to finish)."""
    code, _, tenant_id = callback_data.v.partition("|")
    tariff = sales.tariffs.get(code)
    if tariff is None or not isinstance(query.message, Message):
        await query.answer(tr("stale_button"), show_alert=True)
        return
    try:
        tenant = await Subscriptions(sales.db).renewable(tenant_id, query.from_user.id)
    except RenewalRefused:
        await query.answer()
        await query.message.answer(tr("renew_refused"), reply_markup=keyboards.again(tr))
        return
    await query.answer()
    order, created = await sales.orders.open_renewal(query.from_user.id, tariff, tenant, language=tr.lang)
    if not created and not (order.kind == "renewal" and order.tenant_id == tenant.tenant_id):
        key = "open_order_unpaid" if order.status is OrderStatus.AWAITING_PAYMENT else "open_order_draft"
        await query.message.answer(tr(key), reply_markup=keyboards.open_order(tr, order.order_id))
        return
    if not created and order.status is OrderStatus.DRAFT and order.tariff != tariff.code:
        await sales.orders.set_details(order.order_id, tariff=tariff)  # the owner changed their mind
        order = await sales.orders.get(order.order_id) or order
    await query.message.answer(
        tr("renew_summary", username=tenant.bot_username or "", company=tenant.company_name,
           period=tr.days(order.period_days), amount=tr.money(order.amount_kopecks, order.currency))
    )
    await show_payment(query.message, state, sales, tr, order.order_id)
