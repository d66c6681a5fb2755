"""Async client for the Telegram stand-in's control API, used by tests, benchmarks and demos.

It plays the Telegram users (send messages, press buttons, create a managed bot) and reads back what
bots did, so a test can drive a real aiogram bot end to end: ``send_message`` then
``wait_for_message`` (a server-side long poll, no sleeping). Bots may be named by ``BotInfo``,
``CreatedManagedBot``, token or username; the first two are sent as their numeric id so tokens stay
out of URLs.

It speaks HTTP through httpx, the project's one async HTTP client (aiohttp stays only as the servers'
framework, which aiogram needs anyway). Connections are kept alive up to the pool size, so benchmarks
that drive hundreds of control calls per second reuse them instead of reconnecting. Waits are
server-side long polls; the client's own timeout for them is longer than the server's, so the server's
408 (turned into ``TimeoutError``) is what a caller sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx

# ControlApiError is part of this client's API (callers catch it from here); both stand-ins share it.
from devstack.standins.control_http import ControlApiError as ControlApiError
from devstack.standins.control_http import control_http_client, control_json

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class BotInfo:
    """A bot registered in the stand-in: what a test needs to start an aiogram ``Bot`` for it."""

    id: int
    token: str
    username: str


@dataclass(frozen=True)
class CreatedManagedBot:
    """A bot a user created by tapping a manager bot's ``request_managed_bot`` button.

    It carries no token on purpose: as in Telegram, only the manager learns it, through
    ``getManagedBotToken``, so code under test is exercised the way production uses it.
    """

    id: int
    username: str
    first_name: str
    manager_id: int
    owner_id: int
    #: The user's ``managed_bot_created`` service message in the chat with the manager.
    message_id: int
    #: Update ids of the ``managed_bot`` update and of that message (None if ``allowed_updates`` hid it).
    managed_bot_update_id: int | None
    message_update_id: int | None


@dataclass(frozen=True)
class TgUser:
    """A Telegram user acted out by a test; the private chat with a bot has the user's id."""

    id: int
    first_name: str
    username: str | None = None
    language_code: str = "ru"

    def to_json(self) -> JsonDict:
        """Serialise for the control API."""
        data: JsonDict = {"id": self.id, "first_name": self.first_name, "language_code": self.language_code}
        if self.username:
            data["username"] = self.username
        return data


#: How callers name a bot: a ``BotInfo`` or ``CreatedManagedBot`` (sent as its id), a token or a username.
BotRef = BotInfo | CreatedManagedBot | str


def _ref(bot: BotRef | int) -> str:
    """Name a bot for the control API: known bots by id, anything else (token, username) as given."""
    if isinstance(bot, BotInfo | CreatedManagedBot):
        return str(bot.id)
    return str(bot)


class TelegramControl:
    """Client for ``/control/...`` of a running stand-in at ``base_url``."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        """Create the HTTP client; ``timeout`` bounds ordinary calls, waits get their own bound."""
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._http: httpx.AsyncClient | None = None  # created in the event loop that first uses it

    async def __aenter__(self) -> Self:
        """Use as ``async with TelegramControl(url) as control``."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the HTTP client."""
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client and its connections."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: JsonDict | None = None,
        params: dict[str, str | int | float] | None = None,
        request_timeout: float | None = None,
    ) -> JsonDict:
        """Send one control request and return its JSON body, raising ``ControlApiError`` on failure.

        A client-side timeout raises ``TimeoutError``, as a server-side wait that expires does.
        """
        if self._http is None or self._http.is_closed:
            self._http = control_http_client(self.base_url, timeout=self._timeout)
        timeout = request_timeout if request_timeout is not None else self._timeout
        query = {key: str(value) for key, value in (params or {}).items()}
        try:
            response = await self._http.request(method, path, json=json, params=query, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"{method} {path}: no answer from the stand-in within {timeout}s") from exc
        body: JsonDict = control_json(response)
        return body

    async def health(self) -> JsonDict:
        """Return the stand-in's health document (``{"ok": true, "bots": n}``)."""
        return await self._request("GET", "/control/health")

    async def create_bot(
        self,
        username: str | None = None,
        token: str | None = None,
        *,
        first_name: str | None = None,
        can_manage_bots: bool | None = None,
    ) -> BotInfo:
        """Register a bot (or get the existing one with that username) and return its credentials.

        ``can_manage_bots=True`` plays enabling bot management in BotFather, which a bot needs before
        users can create managed bots through its ``request_managed_bot`` button.
        """
        body: JsonDict = {"username": username, "token": token, "first_name": first_name}
        body = {k: v for k, v in body.items() if v}
        if can_manage_bots is not None:
            body["can_manage_bots"] = can_manage_bots
        data = await self._request("POST", "/control/bots", json=body)
        return BotInfo(id=int(data["id"]), token=str(data["token"]), username=str(data["username"]))

    async def revoke_bot(self, bot: BotRef) -> None:
        """Delete a bot; its token gets 401 Unauthorized from the Bot API afterwards."""
        await self._request("POST", "/control/bots/revoke", json={"bot": _ref(bot)})

    async def rotate_token(self, bot: BotRef) -> BotInfo:
        """Issue a new token for the same bot id; the old token gets 401 afterwards."""
        data = await self._request("POST", "/control/bots/rotate-token", json={"bot": _ref(bot)})
        return BotInfo(id=int(data["id"]), token=str(data["token"]), username=str(data["username"]))

    async def bot_info(self, bot: BotRef) -> JsonDict:
        """Return delivery state: webhook info, pending updates, whether an instance is polling now."""
        return await self._request("GET", f"/control/bots/{_ref(bot)}")

    async def wait_until_polling(
        self,
        bot: BotRef,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - the server bounds the wait; part of the public API
    ) -> None:
        """Wait until some process has a getUpdates long poll in flight for the bot; raises
        ``TimeoutError`` if none arrives within ``timeout`` seconds."""
        try:
            await self._request(
                "GET",
                f"/control/bots/{_ref(bot)}/wait-polling",
                params={"timeout": timeout},
                request_timeout=timeout + 5.0,
            )
        except ControlApiError as exc:
            if exc.status == 408:
                raise TimeoutError(f"bot {_ref(bot)} was not polled within {timeout}s") from None
            raise

    async def set_rate_limit(self, limit: int | None, *, window: float = 1.0, bot: BotRef | None = None) -> None:
        """Allow at most ``limit`` sends per chat per ``window`` seconds (None turns the limit off).

        Without ``bot`` it sets the default for every bot that has no limit of its own.
        """
        body: JsonDict = {"limit": limit, "window": window, "bot": _ref(bot) if bot is not None else None}
        await self._request("POST", "/control/rate-limit", json=body)

    async def send_message(
        self, bot: BotRef, user: TgUser, text: str, *, reply_to_message_id: int | None = None
    ) -> JsonDict:
        """Write ``text`` to the bot as ``user``; returns the user's Bot API message (with message_id)."""
        body: JsonDict = {"bot": _ref(bot), "user": user.to_json(), "text": text}
        if reply_to_message_id is not None:
            body["reply_to_message_id"] = reply_to_message_id
        data = await self._request("POST", "/control/messages", json=body)
        message: JsonDict = data["message"]
        return message

    async def send_photo(self, bot: BotRef, user: TgUser, *, caption: str = "") -> JsonDict:
        """Send the bot a photo as ``user`` (a picture where text is expected); returns the user's message."""
        body: JsonDict = {"bot": _ref(bot), "user": user.to_json(), "photo": True, "text": caption}
        data = await self._request("POST", "/control/messages", json=body)
        message: JsonDict = data["message"]
        return message

    async def press_button(
        self, bot: BotRef, user: TgUser, message_id: int, data: str, force: bool = False
    ) -> str:
        """Press the inline button with ``data`` under a bot message; returns the callback query id.

        The stand-in refuses buttons that do not exist on the message unless ``force`` is set.
        """
        body: JsonDict = {
            "bot": _ref(bot),
            "user": user.to_json(),
            "message_id": message_id,
            "data": data,
            "force": force,
        }
        result = await self._request("POST", "/control/callbacks", json=body)
        return str(result["callback_query_id"])

    async def create_managed_bot(
        self,
        manager: BotRef,
        user: TgUser,
        *,
        request_id: int | None = None,
        username: str | None = None,
        name: str | None = None,
    ) -> CreatedManagedBot:
        """Play ``user`` tapping the manager's ``request_managed_bot`` button and creating the bot.

        The button must be on the reply keyboard the manager last showed the user (``request_id``
        picks one of several); ``username`` and ``name`` default to the button's suggestions. The
        manager then receives the ``managed_bot`` update and the ``managed_bot_created`` message.
        Raises ``ControlApiError`` (409) when no such button is shown or the username is taken.
        """
        body: JsonDict = {"bot": _ref(manager), "user": user.to_json()}
        if request_id is not None:
            body["request_id"] = request_id
        if username is not None:
            body["username"] = username
        if name is not None:
            body["name"] = name
        data = await self._request("POST", "/control/managed-bots", json=body)
        bot = data["bot"]
        return CreatedManagedBot(
            id=int(bot["id"]),
            username=str(bot["username"]),
            first_name=str(bot["first_name"]),
            manager_id=int(bot["managed_by"]),
            owner_id=int(bot["owner_id"]),
            message_id=int(data["message"]["message_id"]),
            managed_bot_update_id=data["update_ids"]["managed_bot"],
            message_update_id=data["update_ids"]["message"],
        )

    async def reply_keyboard(self, bot: BotRef, chat_id: int) -> JsonDict | None:
        """Return the reply keyboard the user currently sees in the chat, or None when none is shown."""
        data = await self._request("GET", "/control/messages", params={"bot": _ref(bot), "chat_id": chat_id})
        keyboard: JsonDict | None = data["reply_keyboard"]
        return keyboard

    async def wait_for_deletion(
        self,
        bot: BotRef,
        chat_id: int,
        message_id: int,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - the server bounds the wait; part of the public API
    ) -> JsonDict:
        """Wait until the message (the bot's or the user's) is deleted and return its view; raises
        ``TimeoutError`` if it is still there after ``timeout`` seconds."""
        params: dict[str, str | int | float] = {
            "bot": _ref(bot),
            "chat_id": chat_id,
            "message_id": message_id,
            "timeout": timeout,
        }
        try:
            data = await self._request(
                "GET", "/control/messages/wait-deleted", params=params, request_timeout=timeout + 5.0
            )
        except ControlApiError as exc:
            if exc.status == 408:
                raise TimeoutError(f"message #{message_id} in chat {chat_id} not deleted within {timeout}s") from None
            raise
        message: JsonDict = data["message"]
        return message

    async def messages(self, bot: BotRef, chat_id: int, *, include_user: bool = False) -> list[JsonDict]:
        """List messages the bot sent in a chat, with edits applied and ``deleted`` flagged."""
        params: dict[str, str | int | float] = {"bot": _ref(bot), "chat_id": chat_id}
        if include_user:
            params["include_user"] = 1
        data = await self._request("GET", "/control/messages", params=params)
        messages: list[JsonDict] = data["messages"]
        return messages

    async def events(self, bot: BotRef, chat_id: int) -> list[JsonDict]:
        """Return the chat's ordered log: sends, edits, deletions, user messages and button presses."""
        data = await self._request("GET", "/control/messages", params={"bot": _ref(bot), "chat_id": chat_id})
        events: list[JsonDict] = data["events"]
        return events

    async def wait_for_message(
        self,
        bot: BotRef,
        chat_id: int,
        *,
        contains: str | None = None,
        after_message_id: int = 0,
        timeout: float = 10.0,  # noqa: ASYNC109 - the server bounds the wait; part of the public API
    ) -> JsonDict:
        """Wait until the bot has a message in the chat newer than ``after_message_id`` whose current
        text contains ``contains``; raises ``TimeoutError`` if none appears within ``timeout`` seconds."""
        params: dict[str, str | int | float] = {
            "bot": _ref(bot),
            "chat_id": chat_id,
            "after_message_id": after_message_id,
            "timeout": timeout,
        }
        if contains is not None:
            params["contains"] = contains
        try:
            data = await self._request("GET", "/control/messages/wait", params=params, request_timeout=timeout + 5.0)
        except ControlApiError as exc:
            if exc.status == 408:
                raise TimeoutError(
                    f"bot sent no message containing {contains!r} after #{after_message_id} "
                    f"in chat {chat_id} within {timeout}s"
                ) from None
            raise
        message: JsonDict = data["message"]
        return message

    async def callback_answers(self, bot: BotRef) -> list[JsonDict]:
        """List the bot's callback queries that have been answered, each with its answer."""
        data = await self._request("GET", "/control/callbacks", params={"bot": _ref(bot)})
        return [c for c in data["callbacks"] if c["answered"]]

    async def wait_for_callback_answer(
        self,
        bot: BotRef,
        callback_query_id: str,
        *,
        timeout: float = 10.0,  # noqa: ASYNC109 - the server bounds the wait; part of the public API
    ) -> JsonDict:
        """Wait until the bot answers a callback query and return that callback with its answer;
        raises ``TimeoutError`` if it is not answered within ``timeout`` seconds."""
        params: dict[str, str | int | float] = {
            "bot": _ref(bot),
            "wait_answer": callback_query_id,
            "timeout": timeout,
        }
        try:
            data = await self._request("GET", "/control/callbacks", params=params, request_timeout=timeout + 5.0)
        except ControlApiError as exc:
            if exc.status == 408:
                raise TimeoutError(f"callback query {callback_query_id} not answered within {timeout}s") from None
            raise
        for callback in data["callbacks"]:
            if callback["callback_query_id"] == callback_query_id:
                found: JsonDict = callback
                return found
        raise ControlApiError(404, "callback query vanished")
