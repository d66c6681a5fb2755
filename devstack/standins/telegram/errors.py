"""The two kinds of refusal the Telegram stand-in gives, and the JSON shape both layers share.

Bot API calls fail with ``BotApiError`` (Telegram's status, description and parameters, which aiogram maps
onto its exception classes); control-API calls fail with ``ControlError``. Both are raised by the world's
rules and turned into responses by the HTTP layers, so a rule states its refusal once.
"""

from __future__ import annotations

from typing import Any

JsonDict = dict[str, Any]


class BotApiError(Exception):
    """A Bot API failure with the exact status, description and parameters Telegram would send.

    Raising it anywhere in the state or the routes ends the request with
    ``{"ok": false, "error_code": ..., "description": ..., "parameters": ...}``, which is what aiogram
    turns into its typed exceptions.
    """

    def __init__(self, error_code: int, description: str, parameters: JsonDict | None = None) -> None:
        """Keep the three parts of the error so the HTTP layer can serialise them unchanged."""
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> JsonDict:
        """Return the error body in the Bot API's wire format."""
        body: JsonDict = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class ControlError(Exception):
    """A refused control-API request (unknown bot, missing button, bad input) with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        """Keep the status and the human-readable reason for the control route to report."""
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(detail: str) -> BotApiError:
    """Build a 400 error whose description carries Telegram's ``Bad Request: `` prefix."""
    return BotApiError(400, f"Bad Request: {detail}")

