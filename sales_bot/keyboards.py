"""The sales bot's keyboards: tariffs, the one-tap bot request, time zones, confirm and pay.

The managed-bot request is a reply keyboard (Telegram shows bot creation only for reply buttons); every
other choice is an inline button carrying typed ``SaleCb`` data.
"""

from __future__ import annotations

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    KeyboardButtonRequestManagedBot,
    ReplyKeyboardMarkup,
)

from botpool.commerce.tariffs import Tariff
from botpool.i18n import N_
from sales_bot.callbacks import Act, SaleCb
from sales_bot.texts import SalesTr

#: Time zones offered as buttons (most Russian salons), the default first, with their button texts;
#: anything else can be typed.
ZONE_BUTTONS = (
    ("Europe/Moscow", N_("tz_0")), ("Europe/Kaliningrad", N_("tz_1")), ("Europe/Samara", N_("tz_2")),
    ("Asia/Yekaterinburg", N_("tz_3")), ("Asia/Omsk", N_("tz_4")), ("Asia/Novosibirsk", N_("tz_5")),
    ("Asia/Krasnoyarsk", N_("tz_6")), ("Asia/Irkutsk", N_("tz_7")), ("Asia/Yakutsk", N_("tz_8")),
    ("Asia/Vladivostok", N_("tz_9")),
)
ZONES = tuple(zone for zone, _ in ZONE_BUTTONS)
#: Fixed id of the managed-bot request, echoed back by Telegram with the created bot.
MANAGED_BOT_REQUEST_ID = 1


def _cb(act: Act, v: str = "") -> str:
    return SaleCb(act=act, v=v).pack()


def tariffs(tr: SalesTr, items: tuple[Tariff, ...]) -> InlineKeyboardMarkup:
    """One button per tariff."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=tr.tariff(t), callback_data=_cb(Act.TARIFF, t.code))] for t in items
        ]
    )


def renew(tr: SalesTr, tenant_id: str) -> InlineKeyboardMarkup:
    """The "renew" button under a reminder."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=tr("btn_renew"), callback_data=_cb(Act.RENEW, tenant_id))]]
    )


def renew_choices(tr: SalesTr, bots: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    """One "renew" button per bot the owner has: (tenant id, button text)."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=text, callback_data=_cb(Act.RENEW, tid))] for tid, text in bots]
    )


def renew_tariffs(tr: SalesTr, items: tuple[Tariff, ...], tenant_id: str) -> InlineKeyboardMarkup:
    """One button per tariff, each renewing ``tenant_id`` for that period."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=tr.tariff(t), callback_data=_cb(Act.RENEW_TARIFF, f"{t.code}|{tenant_id}"))]
            for t in items
        ]
    )


def get_bot(tr: SalesTr, company_hint: str = "") -> ReplyKeyboardMarkup:
    """The one-tap bot creation button, and a button for those who already have a bot from @BotFather."""
    request = KeyboardButtonRequestManagedBot(request_id=MANAGED_BOT_REQUEST_ID, suggested_name=company_hint or None)
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=tr("btn_create_bot"), request_managed_bot=request)],
            [KeyboardButton(text=tr("btn_paste_token"))],
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def zones(tr: SalesTr) -> InlineKeyboardMarkup:
    """The common zones, two per row."""
    buttons = [
        InlineKeyboardButton(text=tr(key), callback_data=_cb(Act.TZ, str(i))) for i, (_, key) in enumerate(ZONE_BUTTONS)
    ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def confirm(tr: SalesTr, order_id: str) -> InlineKeyboardMarkup:
    """Pay or cancel this order."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=tr("btn_pay"), callback_data=_cb(Act.PAY, order_id))],
            [InlineKeyboardButton(text=tr("btn_cancel"), callback_data=_cb(Act.CANCEL, order_id))],
        ]
    )


def pay_link(tr: SalesTr, url: str, amount: str, order_id: str) -> InlineKeyboardMarkup:
    """The YooKassa checkout (a URL button), and cancel."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=tr("btn_pay_url", amount=amount), url=url)],
            [InlineKeyboardButton(text=tr("btn_cancel"), callback_data=_cb(Act.CANCEL, order_id))],
        ]
    )


def open_order(tr: SalesTr, order_id: str) -> InlineKeyboardMarkup:
    """An unpaid order found at /start: continue it or cancel it."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=tr("btn_continue"), callback_data=_cb(Act.CONTINUE, order_id))],
            [InlineKeyboardButton(text=tr("btn_cancel"), callback_data=_cb(Act.CANCEL, order_id))],
        ]
    )


def again(tr: SalesTr) -> InlineKeyboardMarkup:
    """Start a new purchase (after a canceled payment or a failed bot)."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=tr("btn_again"), callback_data=_cb(Act.RESTART))]]
    )
