"""Reply markup validation: keyboards a bot sends are checked the way Telegram checks them.

Bots that send a button Telegram refuses (``callback_data`` over 64 bytes, an inline button with no
action, a malformed ``request_managed_bot``) fail in production, so they fail here with the same words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devstack.standins.telegram.errors import JsonDict, bad_request

_INT32 = range(-(2**31), 2**31)
_INLINE_ACTIONS = frozenset(
    {
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
)


def validate_reply_markup(markup: Any, *, inline_only: bool = False) -> JsonDict:
    """Check a reply markup the way Telegram does and return it normalised.

    Inline buttons need text and exactly one action, and ``callback_data`` must be 1-64 bytes: bots
    that exceed it fail in production with ``BUTTON_DATA_INVALID``, so they fail here too.
    """
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        _validate_rows(markup, "inline_keyboard", "inline keyboard", _validate_inline_button)
        return {"inline_keyboard": markup["inline_keyboard"]}
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        _validate_rows(markup, "keyboard", "reply keyboard", _validate_reply_button)
        return dict(markup)
    if "remove_keyboard" in markup or "force_reply" in markup:
        return dict(markup)
    raise bad_request("can't parse reply keyboard markup JSON object")


def _validate_rows(markup: JsonDict, field: str, what: str, validate_button: Callable[[Any], None]) -> None:
    """Check that ``markup[field]`` is an array of arrays of buttons, and check every button."""
    rows = markup[field]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(f'can\'t parse {what} markup JSON object: field "{field}" must be an Array of Arrays')
    for row in rows:
        for button in row:
            validate_button(button)


def _validate_reply_button(button: Any) -> None:
    """Reject reply keyboard buttons Telegram would reject, notably a malformed ``request_managed_bot``."""
    if isinstance(button, str):
        if not button:
            raise bad_request("can't parse keyboard button: Field \"text\" must be a non-empty String")
        return
    if not isinstance(button, dict) or not isinstance(button.get("text"), str) or not button["text"]:
        raise bad_request('can\'t parse keyboard button: Field "text" must be of type String')
    if "request_managed_bot" in button:
        what = "can't parse KeyboardButtonRequestManagedBot"
        request = button["request_managed_bot"]
        if not isinstance(request, dict):
            raise bad_request('can\'t parse keyboard button: Field "request_managed_bot" must be of type Object')
        request_id = request.get("request_id")
        if not isinstance(request_id, int) or isinstance(request_id, bool) or request_id not in _INT32:
            raise bad_request(f'{what}: Field "request_id" must be of type Integer')
        for name in ("suggested_name", "suggested_username"):
            if name in request and not isinstance(request[name], str):
                raise bad_request(f'{what}: Field "{name}" must be of type String')


def _validate_inline_button(button: Any) -> None:
    """Reject inline buttons Telegram would reject."""
    if not isinstance(button, dict) or not isinstance(button.get("text"), str) or not button["text"]:
        raise bad_request('can\'t parse inline keyboard button: Field "text" must be of type String')
    actions = _INLINE_ACTIONS.intersection(button)
    if not actions:
        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
