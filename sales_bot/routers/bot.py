"""Getting the buyer's bot: one tap (a bot managed by the sales bot) or a pasted BotFather token.

One tap: the reply keyboard's ``request_managed_bot`` button makes Telegram create the bot and send us
a ``managed_bot`` update; the token is fetched with ``getManagedBotToken`` whenever it is needed, so it is
stored nowhere. The same update arrives again whenever the token changes, so it is handled idempotently.

Pasted: the message is deleted at once (before any check, so the token does not linger in the chat),
then the shape is checked, Telegram is asked (``getMe``), the bot must not serve another live tenant,
and the token goes to Vault before the buyer is asked anything else (see ``sales_bot.tokens``).
"""

from __future__ import annotations

import contextlib

import structlog
from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import ManagedBotUpdated, Message, ReplyKeyboardRemove

from botpool.commerce.orders import OrderStatus
from sales_bot import keyboards
from sales_bot.botcheck import VERDICT, BotUnusable, Verdict, check_token, ensure_free
from sales_bot.context import Sales
from sales_bot.fulfilment import REASON_TOKEN_REJECTED, REASON_TOKEN_UNAVAILABLE
from sales_bot.routers.flow import next_step
from sales_bot.states import Buy
from sales_bot.texts import STATUS, SalesTr, catalog

log = structlog.get_logger("sales_bot.bot")
router = Router(name="bot")


@router.managed_bot()
async def managed_bot(event: ManagedBotUpdated, bot: Bot, state: FSMContext, sales: Sales, tr: SalesTr) -> None:
    """A bot was created for us by the buyer's tap (or its token changed): attach it to the buyer's draft."""
    order = await sales.orders.open_for_buyer(event.user.id)
    created = event.bot_user
    if order is None or order.status is not OrderStatus.DRAFT or order.bot_id == created.id:
        log.info("managed bot update without a draft to attach to (a token change or a repeat)", bot_id=created.id)
        return
    try:
        await ensure_free(sales.db, created.id, order.order_id, order.tenant_id)
        await bot.get_managed_bot_token(user_id=created.id)  # we can fetch its token whenever activation needs it
    except BotUnusable as exc:
        await bot.send_message(event.user.id, tr(VERDICT[exc.verdict]))
        return
    except TelegramAPIError:
        await bot.send_message(event.user.id, tr("bot_unreachable"), reply_markup=keyboards.get_bot(tr))
        return
    await sales.orders.set_details(
        order.order_id, bot_id=created.id, bot_username=created.username, bot_source="managed"
    )
    fresh = await sales.orders.get(order.order_id) or order
    await bot.send_message(event.user.id, tr("bot_attached", username=created.username or ""),
                           reply_markup=ReplyKeyboardRemove())
    await next_step(bot, event.user.id, state, tr, fresh)


@router.message(F.managed_bot_created)
async def managed_bot_created(message: Message) -> None:
    """The service message that follows the ``managed_bot`` update: already handled there."""


@router.message(Buy.bot, F.text.in_(catalog().variants("btn_paste_token")))
async def want_paste(message: Message, state: FSMContext, tr: SalesTr) -> None:
    """The buyer already has a bot: ask for its token."""
    await state.set_state(Buy.token)
    await message.answer(tr("ask_token"), reply_markup=ReplyKeyboardRemove())


@router.message(Buy.bot, F.text)
async def bot_step_text(message: Message, bot: Bot, state: FSMContext, sales: Sales, tr: SalesTr) -> None:
    """Text while we wait for the tap: a token pasted right away is accepted, anything else gets a hint."""
    if message.text and ":" in message.text:
        await pasted_token(message, bot, state, sales, tr)
        return
    await message.answer(tr("ask_bot_again"), reply_markup=keyboards.get_bot(tr))


@router.message(Buy.token, F.text)
async def pasted_token(message: Message, bot: Bot, state: FSMContext, sales: Sales, tr: SalesTr) -> None:
    """A pasted token: delete it from the chat, check it, keep it in Vault, attach the bot to the order."""
    assert message.from_user is not None
    assert message.text is not None
    text = message.text
    with contextlib.suppress(TelegramAPIError):
        await message.delete()
    data = await state.get_data()
    order = await sales.orders.get(str(data.get("order_id", "")))
    if order is None or order.buyer_telegram_id != message.from_user.id:
        await state.clear()
        await message.answer(tr("no_order"))
        return
    try:
        checked = await check_token(text, sales.api_session)
        if order.status is OrderStatus.FAILED and order.bot_id != checked.bot_id:
            await message.answer(tr("bot_other_than_paid", username=order.bot_username or ""))
            return
        await ensure_free(sales.db, checked.bot_id, order.order_id, order.tenant_id)
    except BotUnusable as exc:
        await message.answer(tr(VERDICT[exc.verdict]))
        return
    await sales.tokens.keep(order.tenant_id, checked.token)
    if order.status is OrderStatus.FAILED and order.status_reason in (REASON_TOKEN_REJECTED, REASON_TOKEN_UNAVAILABLE):
        await state.clear()
        await message.answer(tr("retrying", username=checked.username))
        await sales.fulfiller.retry(order.order_id)
        return
    if not await sales.orders.set_details(
        order.order_id, bot_id=checked.bot_id, bot_username=checked.username, bot_source="pasted"
    ):
        await message.answer(tr(STATUS[order.status], username=order.bot_username or ""))
        await state.clear()
        return
    await message.answer(tr("bot_attached", username=checked.username))
    await next_step(bot, message.chat.id, state, tr, await sales.orders.get(order.order_id) or order)


@router.message(Command("token"))
async def token_command(message: Message, state: FSMContext, sales: Sales, tr: SalesTr) -> None:
    """A paid order whose token Telegram rejected: wait for a fresh token of the same bot."""
    assert message.from_user is not None
    failed = [
        o for o in await sales.orders.for_buyer(message.from_user.id)
        if o.status is OrderStatus.FAILED and o.kind == "new"  # a renewal never needs a token
    ]
    if not failed:
        await message.answer(tr("no_failed_order"))
        return
    await state.set_state(Buy.token)
    await state.update_data(order_id=failed[0].order_id)
    await message.answer(
        tr("ask_token_again", username=failed[0].bot_username or ""), reply_markup=ReplyKeyboardRemove()
    )


__all__ = ["Verdict", "router"]
