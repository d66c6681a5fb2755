"""Callback data of the operator bot's inline buttons, as typed aiogram factories.

Anyone can forge callback data; parsing through these classes rejects foreign or malformed data (it
lands in the fallback router), and the admin gate runs before any of them is looked at.
"""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class PageCb(CallbackData, prefix="tp"):
    """A page of ``/tenants`` (0-based)."""

    page: int


class ScaleCb(CallbackData, prefix="sc"):
    """Confirm (or cancel) one pending ``/scale`` request, named by its single-use nonce."""

    nonce: str
    ok: bool
