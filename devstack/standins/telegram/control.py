"""Control API of the Telegram stand-in: the test's hands and eyes under ``/control/...``.

Tests cannot type into a Telegram client, so this JSON API plays the users (send a message, press an
inline button, tap a "create a managed bot" button), manages bot accounts (create, revoke, rotate
tokens, rate limits) and exposes what the bots did (messages with edits and deletions applied, an
ordered event log, callback answers). Waiting for a bot's reply or deletion is a server-side long
poll, so tests never sleep-loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog
from aiohttp import web

from devstack.standins.telegram.state import ControlError, JsonDict, RateLimit, UserRecord, World

log = structlog.get_logger("devstack.standins.telegram.control")

MAX_WAIT_SECONDS = 120.0


def _error(status: int, message: str) -> web.Response:
    """Answer a refused control request with a small JSON body."""
    return web.json_response({"error": message, "status": status}, status=status)


async def _body(request: web.Request) -> JsonDict:
    """Read a JSON object body, refusing anything else."""
    try:
        body = await request.json()
    except ValueError:
        raise ControlError(400, "JSON object body expected") from None
    if not isinstance(body, dict):
        raise ControlError(400, "JSON object body expected")
    return body


def _int(value: Any, name: str, default: int | None = None) -> int:
    """Coerce a required integer field, naming it in the error."""
    if value is None or value == "":
        if default is not None:
            return default
        raise ControlError(400, f"{name} is required")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(400, f"{name} must be an integer") from None


def _seconds(value: str | None) -> float:
    """Parse a wait's ``timeout`` query parameter: default 10 s, clamped to 0..MAX_WAIT_SECONDS."""
    if value is None or value == "":
        return 10.0
    try:
        return min(max(float(value), 0.0), MAX_WAIT_SECONDS)
    except ValueError:
        raise ControlError(400, "timeout must be a number") from None


def _bool(value: Any) -> bool:
    """Coerce a flag given as JSON boolean or query-string text."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes") if value is not None else False


class ControlApi:
    """Routes for driving and inspecting the simulated Telegram."""

    def __init__(self, world: World) -> None:
        """Bind to the world shared with the Bot API routes."""
        self.world = world

    def register(self, app: web.Application) -> None:
        """Add the control routes, all wrapped so ``ControlError`` becomes a JSON error response."""
        routes = [
            ("GET", "/control/health", self.health),
            ("GET", "/control/bots", self.list_bots),
            ("POST", "/control/bots", self.create_bot),
            ("GET", "/control/bots/{ref}", self.bot_info),
            ("GET", "/control/bots/{ref}/wait-polling", self.wait_polling),
            ("POST", "/control/bots/revoke", self.revoke_bot),
            ("POST", "/control/bots/rotate-token", self.rotate_token),
            ("POST", "/control/rate-limit", self.set_rate_limit),
            ("POST", "/control/messages", self.user_message),
            ("GET", "/control/messages", self.list_messages),
            ("GET", "/control/messages/wait", self.wait_message),
            ("GET", "/control/messages/wait-deleted", self.wait_deleted),
            ("POST", "/control/managed-bots", self.create_managed_bot),
            ("POST", "/control/callbacks", self.press_button),
            ("GET", "/control/callbacks", self.list_callbacks),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, self._wrap(handler))

    @staticmethod
    def _wrap(handler: Any) -> Any:
        """Turn ``ControlError`` raised by a route into its JSON error response."""

        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                response: web.StreamResponse = await handler(request)
            except ControlError as exc:
                return _error(exc.status, exc.message)
            return response

        return wrapped

    def _user(self, data: Any) -> UserRecord:
        """Create or refresh the user described by a request's ``user`` object."""
        if not isinstance(data, dict):
            raise ControlError(400, "user object is required")
        user_id = _int(data.get("id"), "user.id")
        if user_id <= 0:
            raise ControlError(400, "user.id must be positive")
        return self.world.upsert_user(
            user_id,
            str(data.get("first_name") or f"User {user_id}"),
            last_name=data.get("last_name"),
            username=data.get("username"),
            language_code=data.get("language_code"),
        )

    # --------------------------------------------------------------------------------- routes

    async def health(self, request: web.Request) -> web.Response:
        """``GET /control/health``: liveness and a count of bots, for fixtures waiting on startup."""
        return web.json_response({"ok": True, "bots": len(self.world.bots_by_id)})

    async def list_bots(self, request: web.Request) -> web.Response:
        """``GET /control/bots``: every live bot with its id, username and token."""
        bots = [
            {
                "id": b.id,
                "username": b.username,
                "first_name": b.first_name,
                "token": b.token,
                "can_manage_bots": b.can_manage_bots,
                "managed_by": b.managed_by,
                "owner_id": b.owner_id,
            }
            for b in self.world.bots_by_id.values()
        ]
        return web.json_response({"bots": bots})

    async def create_bot(self, request: web.Request) -> web.Response:
        """``POST /control/bots``: register a bot (idempotent by username) and return its token.

        ``can_manage_bots: true`` plays enabling bot management in BotFather, which a bot needs before
        its ``request_managed_bot`` button can create bots; given for an existing bot, it updates it.
        """
        body = await _body(request)
        can_manage = body.get("can_manage_bots")
        bot, created = self.world.create_bot(
            username=body.get("username"),
            token=body.get("token"),
            first_name=body.get("first_name"),
            can_manage_bots=None if can_manage is None else _bool(can_manage),
        )
        if created:
            log.info("bot created", bot_id=bot.id, username=bot.username, can_manage_bots=bot.can_manage_bots)
        return web.json_response(
            {
                "id": bot.id,
                "token": bot.token,
                "username": bot.username,
                "first_name": bot.first_name,
                "can_manage_bots": bot.can_manage_bots,
                "created": created,
            },
            status=201 if created else 200,
        )

    async def bot_info(self, request: web.Request) -> web.Response:
        """``GET /control/bots/{ref}``: delivery state, e.g. whether an instance is long-polling now."""
        bot = self.world.resolve_bot(request.match_info["ref"])
        return web.json_response(
            {
                "id": bot.id,
                "username": bot.username,
                "first_name": bot.first_name,
                "can_manage_bots": bot.can_manage_bots,
                "managed_by": bot.managed_by,
                "owner_id": bot.owner_id,
                "webhook": self.world.webhook_info(bot),
                "pending_update_count": len(bot.pending),
                "polling": bot.active_polls > 0,
                "last_poll_at": bot.last_poll_at,
                "chats": sorted(bot.chats),
                "commands": [
                    {"scope": scope, "language_code": lang, "commands": cmds}
                    for (scope, lang), cmds in bot.commands.items()
                ],
            }
        )

    async def wait_polling(self, request: web.Request) -> web.Response:
        """``GET /control/bots/{ref}/wait-polling?timeout=s``: block until an instance long-polls the bot.

        Lets a test know a bot process is connected before acting as a user, without sleeping; answers
        408 if no getUpdates request is in flight within ``timeout`` seconds (default 10).
        """
        timeout = _seconds(request.query.get("timeout"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            bot = self.world.resolve_bot(request.match_info["ref"])
            if bot.active_polls > 0:
                return web.json_response({"polling": True})
            remaining = deadline - loop.time()
            if self.world.closing:
                return _error(503, "the stand-in is shutting down")
            if remaining <= 0:
                return _error(408, "no getUpdates request arrived before the timeout")
            await self.world.changed.wait(remaining)

    async def revoke_bot(self, request: web.Request) -> web.Response:
        """``POST /control/bots/revoke``: delete a bot; its token gets 401 from then on."""
        bot = self.world.resolve_bot((await _body(request)).get("bot"))
        self.world.revoke_bot(bot)
        log.info("bot revoked", bot_id=bot.id, username=bot.username)
        return web.json_response({"ok": True})

    async def rotate_token(self, request: web.Request) -> web.Response:
        """``POST /control/bots/rotate-token``: new token for the same bot; the old one gets 401."""
        bot = self.world.resolve_bot((await _body(request)).get("bot"))
        token = self.world.rotate_token(bot)
        log.info("token rotated", bot_id=bot.id, username=bot.username)
        return web.json_response({"id": bot.id, "token": token, "username": bot.username})

    async def set_rate_limit(self, request: web.Request) -> web.Response:
        """``POST /control/rate-limit``: per-chat send limit for one bot, or the default for all.

        Body: ``{"bot": ref|null, "limit": n|null, "window": seconds}``; a null limit turns it off.
        """
        body = await _body(request)
        limit_value = body.get("limit")
        limit = None
        if limit_value is not None:
            window = float(body.get("window", 1.0))
            limit = RateLimit(limit=_int(limit_value, "limit"), window=window)
            if limit.limit < 1 or window <= 0:
                raise ControlError(400, "limit must be >= 1 and window > 0")
        if body.get("bot") is None:
            self.world.default_rate_limit = limit
        else:
            self.world.resolve_bot(body["bot"]).rate_limit = limit
        return web.json_response({"ok": True})

    async def user_message(self, request: web.Request) -> web.Response:
        """``POST /control/messages``: a user writes to a bot; the bot gets a ``message`` update."""
        body = await _body(request)
        bot = self.world.resolve_bot(body.get("bot"))
        user = self._user(body.get("user"))
        text = body.get("text")
        if not isinstance(text, str):
            raise ControlError(400, "text must be a string")
        reply_to = body.get("reply_to_message_id")
        message, update_id = self.world.user_sends(
            bot, user, text, reply_to_message_id=_int(reply_to, "reply_to_message_id") if reply_to else None
        )
        return web.json_response({"message": self.world.message_api(bot, message), "update_id": update_id}, status=201)

    async def press_button(self, request: web.Request) -> web.Response:
        """``POST /control/callbacks``: a user presses an inline button; the bot gets a callback query."""
        body = await _body(request)
        bot = self.world.resolve_bot(body.get("bot"))
        user = self._user(body.get("user"))
        data = body.get("data")
        if not isinstance(data, str):
            raise ControlError(400, "data must be a string")
        callback, update_id = self.world.press_button(
            bot, user, _int(body.get("message_id"), "message_id"), data, force=_bool(body.get("force"))
        )
        return web.json_response({"callback_query_id": callback.id, "update_id": update_id}, status=201)

    async def list_messages(self, request: web.Request) -> web.Response:
        """``GET /control/messages?bot=&chat_id=[&include_user=1]``: messages and the event log.

        Messages show their current state (edits applied, ``deleted`` flagged); ``events`` is the ordered
        history of sends, edits, deletions, user messages and button presses in that chat.
        """
        bot = self.world.resolve_bot(request.query.get("bot"))
        chat = bot.chats.get(_int(request.query.get("chat_id"), "chat_id"))
        include_user = _bool(request.query.get("include_user"))
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
        chat_id = _int(query.get("chat_id"), "chat_id")
        message_id = _int(query.get("message_id"), "message_id")
        timeout = _seconds(query.get("timeout"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            bot = self.world.resolve_bot(query.get("bot"))
            chat = bot.chats.get(chat_id)
            message = chat.messages.get(message_id) if chat is not None else None
            if message is None:
                raise ControlError(404, "no message with this id in the chat")
            if message.deleted:
                return web.json_response({"message": self.world.message_view(message)})
            remaining = deadline - loop.time()
            if self.world.closing:
                return _error(503, "the stand-in is shutting down")
            if remaining <= 0:
                return _error(408, "the message was not deleted before the timeout")
            await self.world.changed.wait(remaining)

    async def create_managed_bot(self, request: web.Request) -> web.Response:
        """``POST /control/managed-bots``: a user taps the bot's ``request_managed_bot`` button.

        Body: ``{"bot": manager ref, "user": {...}, "request_id"?: n, "username"?: s, "name"?: s}``; the
        username and name are what the user would type in the creation form, defaulting to the button's
        suggestions. The new bot is managed by ``bot``; the manager gets the ``managed_bot`` update and
        the ``managed_bot_created`` service message. The answer carries no token: like the user, the
        test learns it only through the manager's ``getManagedBotToken``.
        """
        body = await _body(request)
        manager = self.world.resolve_bot(body.get("bot"))
        user = self._user(body.get("user"))
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
            request_id=None if request_id is None else _int(request_id, "request_id"),
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
        chat_id = _int(query.get("chat_id"), "chat_id")
        contains = query.get("contains")
        after = _int(query.get("after_message_id"), "after_message_id", default=0)
        timeout = _seconds(query.get("timeout"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            bot = self.world.resolve_bot(ref)
            chat = bot.chats.get(chat_id)
            if chat is not None:
                for message_id in sorted(chat.messages):
                    message = chat.messages[message_id]
                    if message.from_bot and message_id > after and (contains is None or contains in message.text):
                        return web.json_response({"message": self.world.message_view(message)})
            remaining = deadline - loop.time()
            if self.world.closing:
                return _error(503, "the stand-in is shutting down")
            if remaining <= 0:
                return _error(408, "no matching message before the timeout")
            await self.world.changed.wait(remaining)

    async def list_callbacks(self, request: web.Request) -> web.Response:
        """``GET /control/callbacks?bot=[&wait_answer=<id>&timeout=s]``: callback queries and answers.

        With ``wait_answer`` the request blocks until the bot has answered that callback query (or 408
        after ``timeout`` seconds), because bots answer asynchronously after the press, and the list
        holds only that query.
        """
        query = request.query
        wait_for = query.get("wait_answer")
        timeout = _seconds(query.get("timeout"))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            bot = self.world.resolve_bot(query.get("bot"))
            if wait_for is None:
                break
            callback = bot.callbacks.get(wait_for)
            if callback is None:
                raise ControlError(404, "unknown callback query id")
            if callback.answer is not None:
                break
            remaining = deadline - loop.time()
            if self.world.closing:
                return _error(503, "the stand-in is shutting down")
            if remaining <= 0:
                return _error(408, "the callback query was not answered before the timeout")
            await self.world.changed.wait(remaining)
        # A wait is about one query: answer with just it (listing every query of a busy bot on each
        # wait made this endpoint quadratic under load).
        chosen = [bot.callbacks[wait_for]] if wait_for is not None else list(bot.callbacks.values())
        callbacks = [
            {
                "callback_query_id": c.id,
                "user_id": c.user_id,
                "chat_id": c.chat_id,
                "message_id": c.message_id,
                "data": c.data,
                "answered": c.answer is not None,
                "answer": c.answer,
            }
            for c in chosen
        ]
        return web.json_response({"callbacks": callbacks})
