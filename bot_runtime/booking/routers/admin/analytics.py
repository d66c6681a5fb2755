"""Analytics for a period and a CSV export of the bookings, for the owner's own spreadsheets."""

from __future__ import annotations

from datetime import timedelta

import structlog
from aiogram import Bot, F
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile, CallbackQuery

from bot_runtime.booking.callbacks import AdminAct, AdminCb
from bot_runtime.booking.keyboards import button, rows
from bot_runtime.booking.middlewares import event_user
from bot_runtime.booking.routers.admin.common import admin_router, cb, menu_button
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.texts import Html, Tr, esc
from bot_runtime.booking.ui import show

log = structlog.get_logger("botpool.booking")

router = admin_router("admin-analytics")


@router.callback_query(AdminCb.filter(F.act == AdminAct.STATS))
async def on_stats(callback: CallbackQuery, callback_data: AdminCb, tr: Tr, svc: BookingService) -> None:
    """Bookings, cancellations, no-shows, revenue, load and top services for a period."""
    today = svc.today()
    first = {
        "7": today - timedelta(days=6),
        "m": today.replace(day=1),
        "y": today - timedelta(days=364),
    }.get(callback_data.v, today - timedelta(days=29))
    data = await svc.analytics(first, today)
    top = "\n".join(f"{i}. {esc(name)} — {n}" for i, (name, n) in enumerate(data.top_services, 1))
    text = tr(
        "stats_title",
        first=tr.day_short(first),
        last=tr.day_short(today),
        bookings=data.bookings,
        cancelled=data.cancelled,
        no_shows=data.no_shows,
        no_show_pct=round(100 * data.no_shows / data.bookings) if data.bookings else 0,
        revenue=tr.price(data.revenue) if data.revenue else "0",
        expected=tr.price(data.expected) if data.expected else "0",
        load=data.load_percent,
        new_clients=data.new_clients,
        rating=f"{data.rating:.1f} ({data.ratings})" if data.rating is not None else tr("no_ratings"),
        top=Html(top or esc(tr("none"))),
    )
    markup = rows(
        [
            button(tr("btn_7d"), cb(AdminAct.STATS, "7")),
            button(tr("btn_30d"), cb(AdminAct.STATS, "30")),
            button(tr("btn_month"), cb(AdminAct.STATS, "m")),
            button(tr("btn_year"), cb(AdminAct.STATS, "y")),
        ],
        [menu_button(tr)],
    )
    await show(callback, text, markup)
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == AdminAct.EXPORT))
async def on_export(callback: CallbackQuery, tr: Tr, svc: BookingService, bot: Bot) -> None:
    """Send a CSV of the last year's and the coming quarter's bookings as a document."""
    today = svc.today()
    first, last = today - timedelta(days=365), today + timedelta(days=90)
    payload, count = await svc.export_csv(first, last)
    user = event_user(callback)
    caption = tr("export_caption", first=tr.day_short(first), last=tr.day_short(last), count=count)
    try:
        await bot.send_document(
            user.id, BufferedInputFile(payload, filename=f"bookings-{today:%Y%m%d}.csv"), caption=caption
        )
    except TelegramAPIError as exc:
        log.warning("CSV export not delivered", error=type(exc).__name__)
        await callback.answer(tr("export_failed"), show_alert=True)
        return
    await callback.answer()
