"""Control routes that play Telegram users and show what bots did in their chats.

A test writes to a bot, presses an inline button or taps a ``request_managed_bot`` button as a user
would, then reads the chat back (messages with edits and deletions applied, the ordered event log,
callback answers) or waits for the bot's reply, deletion or answer with a server-side long poll.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import structlog
from aiohttp import web

from devstack.standins.telegram.control_input import (
    as_bool,
    as_int,
    read_body,
    read_user,
    wait_seconds,
    wait_until,
)
from devstack.standins.telegram.errors import ControlError
from devstack.standins.telegram.records import CallbackRecord
from devstack.standins.telegram.state import World

log = structlog.get_logger("devstack.standins.telegram.control")


def _callbacks_response(callbacks: Iterable[CallbackRecord]) -> web.Response:
    """List callback queries with their answers, as ``GET /control/callbacks`` shows them."""
    return web.json_response(
        {
            "callbacks": [
                {
                    "callback_query_id": c.id,
                    "user_id": c.user_id,
                    "chat_id": c.chat_id,
                    "message_id": c.message_id,
                    "data": c.data,
                    "answered": c.answer is not None,
                    "answer": c.answer,
                }
                for c in callbacks
            ]
        }
    )


class ChatControl:
    """The user-playing and chat-reading routes of the control API."""

    def __init__(self, world: World) -> None:
        """Bind to the world shared with the Bot API routes."""
        self.world = world

    def routes(self) -> list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]]:
        """The routes as (HTTP method, path, handler), for ``ControlApi`` to register."""
        return [
            ("POST", "/control/messages", self.user_message),
            ("GET", "/control/messages", self.list_messages),
            ("GET", "/control/messages/wait", self.wait_message),
            ("GET", "/control/messages/wait-deleted", self.wait_deleted),
            ("POST", "/control/managed-bots", self.create_managed_bot),
            ("POST", "/control/callbacks", self.press_button),
            ("GET", "/control/callbacks", self.list_callbacks),
        ]

    async def user_message(self, request: web.Request) -> web.Response:
        """``POST /control/messages``: a user writes to a bot; the bot gets a ``message`` update.

        ``"photo": true`` sends a photo instead (``text``, if any, is its caption), as a user who
        answers a question with a picture does.
        """
        body = await read_body(request)
        bot = self.world.resolve_bot(body.get("bot"))
        user = read_user(self.world, body.get("user"))
        photo = as_bool(body.get("photo"))
        text = body.get("text", "" if photo else None)
        if not isinstance(text, str):
            raise ControlError(400, "text must be a string")
        reply_to = body.get("reply_to_message_id")
        message, update_id = self.world.user_sends(
            bot, user, text, reply_to_message_id=as_int(reply_to, "reply_to_message_id") if reply_to else None,
            photo=photo,
        )
        return web.json_response({"message": self.world.message_api(bot, message), "update_id": update_id}, status=201)

    async def press_button(self, request: web.Request) -> web.Response:
        """``POST /control/callbacks``: a user presses an inline button; the bot gets a callback query."""
        body = await read_body(request)
        bot = self.world.resolve_bot(body.get("bot"))
        user = read_user(self.world, body.get("user"))
        data = body.get("data")
        if not isinstance(data, str):
            raise ControlError(400, "data must be a string")
        callback, update_id = self.world.press_button(
            bot, user, as_int(body.get("message_id"), "message_id"), data, force=as_bool(body.get("force"))
        )
        return web.json_response({"callback_query_id": callback.id, "update_id": update_id}, status=201)

    async def list_messages(self, request: web.Request) -> web.Response:
        """``GET /control/messages?bot=&chat_id=[&include_user=1]``: messages and the event log.

        Messages show their current state (edits applied, ``deleted`` flagged); ``events`` is the ordered
        history of sends, edits, deletions, user messages and button presses in that chat.
        """
        bot = self.world.resolve_bot(request.query.get("bot"))
        chat = bot.chats.get(as_int(request.query.get("chat_id"), "chat_id"))
        include_user = as_bool(request.query.get("include_user"))
        if chat is None:
            return web.json_response({"messages": [], "events": [], "reply_keyboard": None})
        messages = [self.world.message_view(m) for _, m in sorted(chat.messages.items()) if m.from_bot or include_user]
        return web.json_response({"messages": messages, "events": chat.events, "reply_keyboard": chat.reply_keyboard})

    async def wait_deleted(self, request: web.Request) -> web.Response:
        """``GET /control/messages/wait-deleted?bot=&chat_id=&message_id=&timeout=s``: block until deleted.

        Bots delete messages after they receive them (a pasted token, say), so a test waits for the
        deletion a user would see instead of sleeping. Answers 200 with ``{"message": ...}`` (the
        message's view, ``deleted`` set), 404 for a message that never existed, 408 on timeout.
        """
        query = request.query
        chat_id = as_int(query.get("chat_id"), "chat_id")
        message_id = as_int(query.get("message_id"), "message_id")
        timeout = wait_seconds(query.get("timeout"))

        def deleted() -> web.Response | None:
            bot = self.world.resolve_bot(query.get("bot"))
            chat = bot.chats.get(chat_id)
            message = chat.messages.get(message_id) if chat is not None else None
            if message is None:
                raise ControlError(404, "no message with this id in the chat")
            return web.json_response({"message": self.world.message_view(message)}) if message.deleted else None

        return await wait_until(self.world, timeout, deleted, "the message was not deleted before the timeout")

    async def create_managed_bot(self, request: web.Request) -> web.Response:
        """``POST /control/managed-bots``: a user taps the bot's ``request_managed_bot`` button.

        Body: ``{"bot": manager ref, "user": {...}, "request_id"?: n, "username"?: s, "name"?: s}``; the
        username and name are what the user would type in the creation form, defaulting to the button's
        suggestions. The new bot is managed by ``bot``; the manager gets the ``managed_bot`` update and
        the ``managed_bot_created`` service message. The answer carries no token: like the user, the
        test learns it only through the manager's ``getManagedBotToken``.
        """
        body = await read_body(request)
        manager = self.world.resolve_bot(body.get("bot"))
        user = read_user(self.world, body.get("user"))
        request_id = body.get("request_id")
        username = body.get("username")
        name = body.get("name")
        if username is not None and not isinstance(username, str):
            raise ControlError(400, "username must be a string")
        if name is not None and not isinstance(name, str):
            raise ControlError(400, "name must be a string")
        bot, message, update_ids = self.world.create_managed_bot(
            manager,
            user,
            request_id=None if request_id is None else as_int(request_id, "request_id"),
            username=username,
            name=name,
        )
        log.info("managed bot created", bot_id=bot.id, username=bot.username, manager_id=manager.id, owner_id=user.id)
        return web.json_response(
            {
                "bot": {
                    "id": bot.id,
                    "username": bot.username,
                    "first_name": bot.first_name,
                    "managed_by": bot.managed_by,
                    "owner_id": bot.owner_id,
                },
                "message": self.world.message_api(manager, message),
                "update_ids": update_ids,
            },
            status=201,
        )

    async def wait_message(self, request: web.Request) -> web.Response:
        """``GET /control/messages/wait``: block until the bot has sent a matching message in the chat.

        Query: ``bot``, ``chat_id``, optional ``contains`` (substring of the current text),
        ``after_message_id`` (default 0) and ``timeout`` seconds (default 10, at most 120). Answers 200
        with ``{"message": ...}`` or 408 when nothing matched in time.
        """
        query = request.query
        ref = query.get("bot")
        chat_id = as_int(query.get("chat_id"), "chat_id")
        contains = query.get("contains")
        after = as_int(query.get("after_message_id"), "after_message_id", default=0)
        timeout = wait_seconds(query.get("timeout"))

        def sent() -> web.Response | None:
            chat = self.world.resolve_bot(ref).chats.get(chat_id)
            if chat is None:
                return None
            for message_id in sorted(chat.messages):
                message = chat.messages[message_id]
                if message.from_bot and message_id > after and (contains is None or contains in message.text):
                    return web.json_response({"message": self.world.message_view(message)})
            return None

        return await wait_until(self.world, timeout, sent, "no matching message before the timeout")

    async def list_callbacks(self, request: web.Request) -> web.Response:
        """``GET /control/callbacks?bot=[&wait_answer=<id>&timeout=s]``: callback queries and answers.

        With ``wait_answer`` the request blocks until the bot has answered that callback query (or 408
        after ``timeout`` seconds), because bots answer asynchronously after the press, and the list
        holds only that query (listing every query of a busy bot on each wait made this endpoint
        quadratic under load).
        """
        query = request.query
        wait_for = query.get("wait_answer")
        timeout = wait_seconds(query.get("timeout"))

        def answered() -> web.Response | None:
            bot = self.world.resolve_bot(query.get("bot"))
            if wait_for is None:
                return _callbacks_response(bot.callbacks.values())
            callback = bot.callbacks.get(wait_for)
            if callback is None:
                raise ControlError(404, "unknown callback query id")
            return _callbacks_response([callback]) if callback.answer is not None else None

        return await wait_until(
            self.world, timeout, answered, "the callback query was not answered before the timeout"
        )
