"""The salon's profile: the company name, then the business time zone (a button, or a typed IANA name).

Each answer is checked with the same rules ``TenantSpec`` applies at activation
(``botpool.tenancy.spec``), so a buyer hears about a problem while typing, in one sentence, and nothing
invalid is ever stored.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from botpool.commerce.orders import Order
from botpool.errors import InvalidTenantSpec
from botpool.tenancy import spec
from sales_bot import keyboards
from sales_bot.callbacks import Act, SaleCb
from sales_bot.context import Sales
from sales_bot.routers.flow import next_step
from sales_bot.states import Buy
from sales_bot.texts import SPEC, SalesTr

router = Router(name="details")


async def _order(state: FSMContext, sales: Sales, buyer_id: int) -> Order | None:
    data = await state.get_data()
    order = await sales.orders.get(str(data.get("order_id", "")))
    return order if order is not None and order.buyer_telegram_id == buyer_id else None


@router.message(Buy.company, F.text)
async def company(message: Message, bot: Bot, state: FSMContext, sales: Sales, tr: SalesTr) -> None:
    """Check and store the company name, then ask for the time zone."""
    assert message.from_user is not None
    assert message.text is not None
    try:
        name = spec.validate_company_name(message.text)
    except InvalidTenantSpec as exc:
        await message.answer(tr(SPEC.get(exc.code, "error"), limit=spec.COMPANY_NAME_MAX))
        return
    order = await _order(state, sales, message.from_user.id)
    if order is None:
        await state.clear()
        await message.answer(tr("no_order"))
        return
    await sales.orders.set_details(order.order_id, company_name=name)
    await next_step(bot, message.chat.id, state, tr, await sales.orders.get(order.order_id) or order)


async def _set_zone(bot: Bot, chat_id: int, buyer_id: int, zone: str, state: FSMContext, sales: Sales,
                    tr: SalesTr) -> None:
    order = await _order(state, sales, buyer_id)
    if order is None:
        await state.clear()
        await bot.send_message(chat_id, tr("no_order"))
        return
    await sales.orders.set_details(order.order_id, timezone=zone)
    await next_step(bot, chat_id, state, tr, await sales.orders.get(order.order_id) or order)


@router.callback_query(Buy.timezone, SaleCb.filter(F.act == Act.TZ))
async def zone_button(
    query: CallbackQuery, callback_data: SaleCb, bot: Bot, state: FSMContext, sales: Sales, tr: SalesTr
) -> None:
    """One of the offered zones."""
    index = int(callback_data.v) if callback_data.v.isdigit() else -1
    if not 0 <= index < len(keyboards.ZONES):
        await query.answer(tr("stale_button"), show_alert=True)
        return
    await query.answer()
    await _set_zone(bot, query.from_user.id, query.from_user.id, keyboards.ZONES[index], state, sales, tr)


@router.message(Buy.timezone, F.text)
async def zone_text(message: Message, bot: Bot, state: FSMContext, sales: Sales, tr: SalesTr) -> None:
    """A typed IANA zone (Asia/Tomsk); an unknown one gets one sentence and the buttons again."""
    assert message.from_user is not None
    assert message.text is not None
    try:
        zone = spec.validate_timezone(message.text[:64])
    except InvalidTenantSpec:
        await message.answer(tr("spec_timezone_unknown"), reply_markup=keyboards.zones(tr))
        return
    await _set_zone(bot, message.chat.id, message.from_user.id, zone, state, sales, tr)


@router.message(Buy.company)
@router.message(Buy.timezone)
@router.message(Buy.token)
async def not_text(message: Message, tr: SalesTr) -> None:
    """A photo, sticker or file where a text answer is expected."""
    await message.answer(tr("text_expected"))
