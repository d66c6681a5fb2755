"""How a Bot API method call arrives: its parameters in any of Telegram's encodings, and its result.

Parameters may come in the query string, a JSON body, a urlencoded form or a multipart form (aiogram's
choice, with complex values JSON-encoded); ``Params`` reads them all with Telegram's type coercion so
each method is written once. ``Handler`` is the shape of every method, ``Described`` a result that also
carries Telegram's success ``description``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from devstack.standins.telegram.errors import bad_request
from devstack.standins.telegram.records import BotRecord

#: A Bot API method: the calling bot, the token it used, and the call's parameters.
Handler = Callable[[BotRecord, str, "Params"], Awaitable[Any]]


def _strip_nulls(value: Any) -> Any:
    """Drop ``null`` members recursively, since Telegram treats an explicit null as an absent field."""
    if isinstance(value, dict):
        return {k: _strip_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strip_nulls(v) for v in value]
    return value


class Params:
    """Method parameters from any of the Bot API's encodings, read with Telegram's type coercion.

    Form and query values are strings (aiogram JSON-encodes lists and objects), JSON bodies carry
    native values; each accessor accepts both so one handler serves every encoding.
    """

    def __init__(self, raw: Mapping[str, Any]) -> None:
        """Keep the merged raw parameters."""
        self.raw = dict(raw)

    def _get(self, name: str) -> Any:
        """Return a parameter, treating null and the empty string as absent."""
        value = self.raw.get(name)
        return None if value is None or value == "" else value

    def has(self, name: str) -> bool:
        """Tell whether a parameter was given with a non-empty value."""
        return self._get(name) is not None

    def get_str(self, name: str) -> str | None:
        """Read a string parameter; numbers are accepted and rendered as text."""
        value = self._get(name)
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise bad_request(f"{name} must be a string")

    def get_int(self, name: str) -> int | None:
        """Read an integer parameter from a number or its decimal text."""
        value = self._get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise bad_request(f"invalid {name} specified")
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        """Read a boolean parameter given as JSON true/false or the strings aiogram sends."""
        value = self._get(name)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1")

    def get_json(self, name: str, what: str | None = None) -> Any:
        """Read a structured parameter that form encodings carry as a JSON string."""
        value = self._get(name)
        if not isinstance(value, str):
            return _strip_nulls(value)
        try:
            return _strip_nulls(json.loads(value))
        except ValueError:
            raise bad_request(f"can't parse {what or name} JSON object") from None

    def chat_id(self) -> int | str:
        """Read the required ``chat_id``: an integer id or an ``@username``."""
        value = self._get("chat_id")
        if value is None:
            raise bad_request("chat_id is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        if text.lstrip("-").isdigit():
            return int(text)
        return text



class Described:
    """A method result that also carries Telegram's success ``description`` (e.g. "Webhook was set")."""

    def __init__(self, result: Any, description: str) -> None:
        """Keep the result and its description."""
        self.result = result
        self.description = description
