"""Booking rules: slot step, buffers, horizon, notice, cut-off, hold, reminders, rating and limits.

Each value is typed and validated against its allowed range before it is
stored; a wrong value gets the range in one sentence.
"""

from __future__ import annotations

from aiogram import F
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot_runtime.booking.callbacks import AdminAct, AdminCb
from bot_runtime.booking.domain.parsing import ParseError, parse_minutes, parse_offsets
from bot_runtime.booking.filters import HasText
from bot_runtime.booking.keyboards import button, rows
from bot_runtime.booking.routers.admin.common import (
    AdminInput,
    admin_router,
    answer_parse_error,
    cb,
    menu_button,
    prompt,
    send_screen,
)
from bot_runtime.booking.service import BookingService
from bot_runtime.booking.storage.settings import INT_SETTINGS, Settings
from bot_runtime.booking.texts import Tr
from bot_runtime.booking.ui import show

router = admin_router("admin-settings")


#: Settings editable by typing: button label key and whether the value is a duration.
SETTING_FIELDS: dict[str, tuple[str, bool]] = {
    "slot_step_min": ("sb_step", True),
    "horizon_days": ("sb_horizon", False),
    "min_notice_min": ("sb_notice", True),
    "cancel_cutoff_min": ("sb_cutoff", True),
    "hold_min": ("sb_hold", True),
    "rating_after_min": ("sb_rating", True),
    "max_active_per_client": ("sb_max_active", False),
}


async def settings_screen(tr: Tr, svc: BookingService) -> tuple[str, InlineKeyboardMarkup]:
    """All booking rules with a button for each."""
    s = await svc.load_settings()
    reminders = ", ".join(tr.duration(m) for m in s.reminder_offsets_min) or tr("no")
    text = tr(
        "settings_title",
        step=s.slot_step_min,
        bb=s.buffer_before_min,
        ba=s.buffer_after_min,
        horizon=s.horizon_days,
        notice=tr.duration(s.min_notice_min),
        cutoff=tr.duration(s.cancel_cutoff_min),
        hold=s.hold_min,
        auto=tr("auto_on" if s.auto_confirm else "auto_off"),
        reminders=reminders,
        rating=tr("rating_after", after=tr.duration(s.rating_after_min)) if s.rating_after_min else tr("rating_off"),
        max_active=s.max_active_per_client,
        tz=svc.config.timezone,
    )
    fields = [button(tr(label), cb(AdminAct.SETTING_FIELD, field)) for field, (label, _) in SETTING_FIELDS.items()]
    fields += [
        button(tr("sb_buffers"), cb(AdminAct.SETTING_FIELD, "buffers")),
        button(tr("sb_reminders"), cb(AdminAct.SETTING_FIELD, "reminders")),
        button(tr("sb_auto"), cb(AdminAct.SETTING_AUTO)),
    ]
    grid = [fields[i : i + 2] for i in range(0, len(fields), 2)]
    return text, rows(*grid, [menu_button(tr)])


@router.callback_query(AdminCb.filter(F.act == AdminAct.SETTINGS))
async def on_settings(callback: CallbackQuery, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Show the booking rules."""
    await state.clear()
    await show(callback, *await settings_screen(tr, svc))
    await callback.answer()


@router.callback_query(AdminCb.filter(F.act == AdminAct.SETTING_AUTO))
async def on_settings_auto(callback: CallbackQuery, tr: Tr, svc: BookingService, settings: Settings) -> None:
    """Switch between automatic confirmation and manual approval."""
    await svc.set_auto_confirm(not settings.auto_confirm)
    await show(callback, *await settings_screen(tr, svc))
    await callback.answer(tr("setting_saved"))


@router.callback_query(AdminCb.filter(F.act == AdminAct.SETTING_FIELD))
async def on_setting_field(callback: CallbackQuery, callback_data: AdminCb, state: FSMContext, tr: Tr) -> None:
    """Ask for a new value of one setting."""
    field = callback_data.v
    if field == "buffers":
        text = tr("ask_buffers")
    elif field == "reminders":
        text = tr("ask_reminders")
    elif field in SETTING_FIELDS:
        low, high = INT_SETTINGS[field]
        text = tr("ask_setting_minutes" if SETTING_FIELDS[field][1] else "ask_setting_number", low=low, high=high)
    else:
        await callback.answer(tr("stale_button"), show_alert=True)
        return
    await prompt(callback, state, tr, AdminInput.setting, text, field=field)


@router.message(StateFilter(AdminInput.setting), HasText())
async def on_setting_value(message: Message, state: FSMContext, tr: Tr, svc: BookingService) -> None:
    """Validate and save a setting, then show all settings again."""
    field = (await state.get_data()).get("field", "")
    text = (message.text or "").strip()
    try:
        if field == "buffers":
            parts = text.replace(",", " ").split()
            values = [parse_minutes(p) for p in parts]
            if len(values) != 2:
                raise ParseError("err_minutes")
            for name, value in zip(("buffer_before_min", "buffer_after_min"), values, strict=True):
                await svc.set_int_setting(name, value)
        elif field == "reminders":
            await svc.set_reminders(parse_offsets(text))
        elif field in SETTING_FIELDS:
            value = parse_minutes(text) if SETTING_FIELDS[field][1] else int(text) if text.isdigit() else -1
            await svc.set_int_setting(field, value)
        else:
            await state.clear()
            return
    except ParseError as exc:
        await answer_parse_error(message, tr, exc)
        return
    except ValueError as exc:
        low, high = INT_SETTINGS.get(str(exc), (0, 0))
        await message.answer(tr("setting_bad", low=low, high=high))
        return
    await state.clear()
    await message.answer(tr("setting_saved"))
    await send_screen(message, await settings_screen(tr, svc))
