"""Bot API routes of the Telegram stand-in: ``/bot{token}/{method}`` over GET and POST.

Unmodified aiogram bots point their ``TelegramAPIServer`` here, so everything on the wire must match
the real Bot API: parameters may arrive in the query string, a JSON body, a urlencoded form or a
multipart form (aiogram's choice, with complex values JSON-encoded), results come back as
``{"ok": true, "result": ...}`` and failures carry the real status codes and descriptions that aiogram
maps onto its exception classes. Webhook delivery, including executing a method a webhook answers
with, also lives here because it is Bot API behaviour.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import structlog
from aiohttp import web

from devstack.standins.telegram.formatting import EntityParseError, parse_formatted
from devstack.standins.telegram.state import (
    MAX_MESSAGE_LENGTH,
    BotApiError,
    BotRecord,
    ChatRecord,
    JsonDict,
    StoredMessage,
    World,
    bad_request,
)

log = structlog.get_logger("devstack.standins.telegram.botapi")

_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_BOT_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_MAX_POLL_TIMEOUT = 120
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
_CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
_CONFLICT_POLL = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"

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


def validate_reply_markup(markup: Any, *, inline_only: bool = False) -> JsonDict:
    """Check a reply markup the way Telegram does and return it normalised.

    Inline buttons need text and exactly one action, and ``callback_data`` must be 1-64 bytes: bots
    that exceed it fail in production with ``BUTTON_DATA_INVALID``, so they fail here too.
    """
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'can\'t parse inline keyboard markup JSON object: field "inline_keyboard" must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                _validate_inline_button(button)
        return {"inline_keyboard": rows}
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'can\'t parse reply keyboard markup JSON object: field "keyboard" must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                _validate_reply_button(button)
        return dict(markup)
    if "remove_keyboard" in markup or "force_reply" in markup:
        return dict(markup)
    raise bad_request("can't parse reply keyboard markup JSON object")


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


class BotApi:
    """Serves the Bot API methods for every bot in a ``World`` and delivers updates to webhooks."""

    def __init__(
        self,
        world: World,
        *,
        webhook_timeout: float = 10.0,
        webhook_retry_initial: float = 0.1,
        webhook_retry_max: float = 2.0,
    ) -> None:
        """Bind to the world; webhook retry delays are short so tests see redelivery within seconds."""
        self.world = world
        self.webhook_timeout = webhook_timeout
        self.webhook_retry_initial = webhook_retry_initial
        self.webhook_retry_max = webhook_retry_max
        self._http: aiohttp.ClientSession | None = None
        self._webhook_tasks: dict[int, asyncio.Task[None]] = {}
        self._methods: dict[str, Handler] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self.get_me,
                "getUpdates": self.get_updates,
                "sendMessage": self.send_message,
                "editMessageText": self.edit_message_text,
                "editMessageReplyMarkup": self.edit_message_reply_markup,
                "deleteMessage": self.delete_message,
                "deleteMessages": self.delete_messages,
                "answerCallbackQuery": self.answer_callback_query,
                "sendChatAction": self.send_chat_action,
                "getChat": self.get_chat,
                "setMyCommands": self.set_my_commands,
                "getMyCommands": self.get_my_commands,
                "deleteMyCommands": self.delete_my_commands,
                "setWebhook": self.set_webhook,
                "deleteWebhook": self.delete_webhook,
                "getWebhookInfo": self.get_webhook_info,
                "getManagedBotToken": self.get_managed_bot_token,
                "replaceManagedBotToken": self.replace_managed_bot_token,
                "logOut": self.log_out,
                "close": self.log_out,
                "setMyName": self._setter("name"),
                "getMyName": self._getter("name", ""),
                "setMyDescription": self._setter("description"),
                "getMyDescription": self._getter("description", ""),
                "setMyShortDescription": self._setter("short_description"),
                "getMyShortDescription": self._getter("short_description", ""),
            }.items()
        }

    # --------------------------------------------------------------------------- app wiring

    def register(self, app: web.Application) -> None:
        """Add the ``/bot{token}/{method}`` route and the webhook client's lifecycle to ``app``."""
        app.router.add_route("GET", "/bot{token}/{method}", self.handle)
        app.router.add_route("POST", "/bot{token}/{method}", self.handle)
        app.on_startup.append(self._startup)
        app.on_shutdown.append(self._shutdown)
        app.on_cleanup.append(self._cleanup)

    async def _startup(self, app: web.Application) -> None:
        """Open the HTTP client used for webhook delivery."""
        self._http = aiohttp.ClientSession()

    async def _shutdown(self, app: web.Application) -> None:
        """End held long polls with what they have (usually ``[]``) so shutdown does not wait them out."""
        self.world.close()

    async def _cleanup(self, app: web.Application) -> None:
        """Stop webhook delivery and close its HTTP client."""
        tasks = list(self._webhook_tasks.values())
        self._webhook_tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.close()

    async def handle(self, request: web.Request) -> web.Response:
        """Authenticate the token, decode parameters, run the method and answer in Bot API format."""
        token = request.match_info["token"]
        method = request.match_info["method"]
        bot = self.world.bot_by_token(token)
        try:
            if bot is None:
                raise BotApiError(401, "Unauthorized")
            params = await self._read_params(request)
            result, description = await self.call(bot, token, method, params)
        except BotApiError as exc:
            return web.json_response(exc.to_json(), status=exc.error_code)
        except Exception:
            log.exception("internal error", method=method, bot_id=bot.id if bot else None)
            return web.json_response(
                {"ok": False, "error_code": 500, "description": "Internal Server Error"}, status=500
            )
        body: JsonDict = {"ok": True, "result": result}
        if description:
            body["description"] = description
        return web.json_response(body)

    @staticmethod
    async def _read_params(request: web.Request) -> Params:
        """Merge query-string parameters with a JSON, urlencoded or multipart body."""
        raw: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.body_exists:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad_request("can't parse JSON encoded request body") from None
                if not isinstance(body, dict):
                    raise bad_request("JSON object expected as request body")
                raw.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                raw.update(form.items())
        return Params(raw)

    async def call(self, bot: BotRecord, token: str, method: str, params: Params) -> tuple[Any, str | None]:
        """Run one Bot API method; returns the result and an optional success description."""
        handler = self._methods.get(method.lower())
        if handler is None:
            raise BotApiError(404, "Not Found: method not found")
        result = await handler(bot, token, params)
        if isinstance(result, _Described):
            return result.result, result.description
        return result, None

    # ------------------------------------------------------------------------------- helpers

    def _chat(self, bot: BotRecord, params: Params) -> ChatRecord:
        """Resolve the ``chat_id`` parameter to a chat the bot may act in."""
        return self.world.chat_for_bot(bot, params.chat_id())

    @staticmethod
    def _message(chat: ChatRecord, params: Params, missing: str) -> StoredMessage:
        """Find the live message named by ``message_id`` or fail with Telegram's ``missing`` wording."""
        message_id = params.get_int("message_id")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None or message.deleted:
            raise bad_request(missing)
        return message

    @staticmethod
    def _text(params: Params, *, too_long: str) -> tuple[str, list[JsonDict]]:
        """Parse ``text`` with ``parse_mode`` or explicit ``entities`` and apply Telegram's limits."""
        raw = params.get_str("text")
        if raw is None or not raw.strip():
            raise bad_request("message text is empty")
        parse_mode = params.get_str("parse_mode")
        try:
            text, entities = parse_formatted(raw, parse_mode)
        except EntityParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
        except ValueError:
            raise bad_request("unsupported parse_mode") from None
        if not parse_mode and params.has("entities"):
            given = params.get_json("entities")
            if not isinstance(given, list):
                raise bad_request("can't parse entities JSON object")
            entities = given
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MAX_MESSAGE_LENGTH:
            raise bad_request(too_long)
        return text, entities

    @staticmethod
    def _markup(params: Params, *, inline_only: bool) -> JsonDict | None:
        """Read and validate the optional ``reply_markup`` parameter."""
        if not params.has("reply_markup"):
            return None
        markup = params.get_json("reply_markup", "reply keyboard markup")
        return validate_reply_markup(markup, inline_only=inline_only)

    @staticmethod
    def _reply_to(chat: ChatRecord, params: Params) -> int | None:
        """Resolve ``reply_parameters`` (or the legacy ``reply_to_message_id``) within the chat."""
        reply = params.get_json("reply_parameters") if params.has("reply_parameters") else None
        if reply is not None and not isinstance(reply, dict):
            raise bad_request("can't parse reply parameters JSON object")
        message_id: int | None
        if reply:
            message_id = reply.get("message_id")
            allow_missing = bool(reply.get("allow_sending_without_reply"))
        else:
            message_id = params.get_int("reply_to_message_id")
            allow_missing = params.get_bool("allow_sending_without_reply")
        if message_id is None:
            return None
        target = chat.messages.get(int(message_id))
        if target is None or target.deleted:
            if allow_missing:
                return None
            raise bad_request("message to be replied not found")
        return target.message_id

    # ------------------------------------------------------------------------------- methods

    async def get_me(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``getMe``: the bot's own ``User`` with the bot-only capability fields."""
        return bot.get_me()

    async def get_updates(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``getUpdates``: a true long poll that returns as soon as an update is queued.

        A newer getUpdates for the same bot ends an older one with 409, as Telegram does when two
        instances poll one token; revoking the token ends it with 401.
        """
        if bot.webhook_url:
            raise BotApiError(409, _CONFLICT_WEBHOOK)
        offset = params.get_int("offset")
        limit = min(max(params.get_int("limit") or 100, 1), 100)
        timeout = min(max(params.get_int("timeout") or 0, 0), _MAX_POLL_TIMEOUT)
        if params.has("allowed_updates"):
            allowed = params.get_json("allowed_updates")
            if not isinstance(allowed, list):
                raise bad_request("can't parse allowed_updates JSON object")
            bot.allowed_updates = [str(kind) for kind in allowed]
        self.world.confirm_updates(bot, offset)
        bot.poll_generation += 1
        generation = bot.poll_generation
        bot.updates.notify()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        bot.active_polls += 1
        bot.last_poll_at = self.world.clock()
        self.world.changed.notify()
        try:
            while True:
                if self.world.bot_by_token(token) is not bot:
                    raise BotApiError(401, "Unauthorized")
                if bot.poll_generation != generation:
                    raise BotApiError(409, _CONFLICT_POLL)
                if bot.webhook_url:
                    raise BotApiError(409, _CONFLICT_WEBHOOK)
                updates = self.world.peek_updates(bot, limit)
                remaining = deadline - loop.time()
                if updates or remaining <= 0 or self.world.closing:
                    return updates
                await bot.updates.wait(remaining)
        finally:
            bot.active_polls -= 1
            bot.last_poll_at = self.world.clock()

    async def send_message(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``sendMessage``: store the message in the chat and return it as a full ``Message``."""
        chat = self._chat(bot, params)
        text, entities = self._text(params, too_long="message is too long")
        markup = self._markup(params, inline_only=False)
        reply_to = self._reply_to(chat, params)
        self.world.check_rate(bot, chat)
        message = self.world.bot_sends(
            bot, chat, text=text, entities=entities, reply_markup=markup, reply_to_message_id=reply_to
        )
        return self.world.message_api(bot, message)

    async def edit_message_text(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``editMessageText``: replace text; an omitted inline keyboard is removed, as on Telegram."""
        if params.has("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._chat(bot, params)
        message = self._message(chat, params, "message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        text, entities = self._text(params, too_long="MESSAGE_TOO_LONG")
        markup = self._markup(params, inline_only=True)
        if markup is None and message.reply_markup and "inline_keyboard" not in message.reply_markup:
            markup = message.reply_markup
        self.world.check_rate(bot, chat)
        self.world.bot_edits(chat, message, kind="edit_text", text=text, entities=entities, reply_markup=markup)
        return self.world.message_api(bot, message)

    async def edit_message_reply_markup(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``editMessageReplyMarkup``: replace or (when omitted) remove the inline keyboard."""
        if params.has("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._chat(bot, params)
        message = self._message(chat, params, "message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        markup = self._markup(params, inline_only=True)
        self.world.check_rate(bot, chat)
        self.world.bot_edits(
            chat,
            message,
            kind="edit_reply_markup",
            text=message.text,
            entities=message.entities,
            reply_markup=markup,
        )
        return self.world.message_api(bot, message)

    async def delete_message(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``deleteMessage``: flag the message deleted; a second delete fails like on Telegram."""
        chat = self._chat(bot, params)
        message = self._message(chat, params, "message to delete not found")
        self.world.bot_deletes(chat, message)
        return True

    async def delete_messages(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``deleteMessages``: delete every listed message that still exists; missing ones are skipped."""
        chat = self._chat(bot, params)
        ids = params.get_json("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must be a non-empty list of at most 100 identifiers")
        for message_id in ids:
            message = chat.messages.get(int(message_id))
            if message is not None and not message.deleted:
                self.world.bot_deletes(chat, message)
        return True

    async def answer_callback_query(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``answerCallbackQuery``: record the answer; an unknown or reused query id is refused."""
        callback_id = params.get_str("callback_query_id")
        if callback_id is None:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        answer: JsonDict = {
            "text": params.get_str("text"),
            "show_alert": params.get_bool("show_alert"),
            "url": params.get_str("url"),
            "cache_time": params.get_int("cache_time") or 0,
        }
        self.world.answer_callback(bot, callback_id, answer)
        return True

    async def send_chat_action(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``sendChatAction``: accepted for chats the bot may write to."""
        self._chat(bot, params)
        if not params.has("action"):
            raise bad_request("action is empty")
        return True

    async def get_chat(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``getChat``: a ``ChatFullInfo`` for a private chat the bot has."""
        chat = self._chat(bot, params)
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels")
        return {
            **chat.user.chat_api(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": dict.fromkeys(gifts, True),
        }

    @staticmethod
    def _commands_key(params: Params) -> tuple[str, str]:
        """Key commands by scope and language, the two dimensions Telegram stores them under."""
        scope = params.get_json("scope") if params.has("scope") else None
        scope_key = json.dumps(scope or {"type": "default"}, sort_keys=True)
        return scope_key, params.get_str("language_code") or ""

    async def set_my_commands(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``setMyCommands``: validate and store the command list for a scope and language."""
        commands = params.get_json("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        cleaned: list[JsonDict] = []
        for command in commands:
            if not isinstance(command, dict) or not _BOT_COMMAND.match(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not str(command.get("description", "")).strip():
                raise bad_request("command description is empty")
            cleaned.append(command)
        bot.commands[self._commands_key(params)] = cleaned
        return True

    async def get_my_commands(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``getMyCommands``: the list stored for exactly this scope and language."""
        return bot.commands.get(self._commands_key(params), [])

    async def delete_my_commands(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``deleteMyCommands``: forget the list for this scope and language."""
        bot.commands.pop(self._commands_key(params), None)
        return True

    def _setter(self, name: str) -> Handler:
        """Build a ``setMy*`` method storing one text property per language."""

        async def handler(bot: BotRecord, token: str, params: Params) -> Any:
            bot.properties[(name, params.get_str("language_code") or "")] = params.get_str(name) or ""
            return True

        return handler

    def _getter(self, name: str, default: str) -> Handler:
        """Build a ``getMy*`` method returning ``{name: value}`` for a language."""

        async def handler(bot: BotRecord, token: str, params: Params) -> Any:
            return {name: bot.properties.get((name, params.get_str("language_code") or ""), default)}

        return handler

    async def set_webhook(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``setWebhook``: switch to push delivery; plain http is allowed here for loopback receivers."""
        url = params.get_str("url") or ""
        if url and not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get_str("secret_token")
        if secret is not None and not _SECRET_TOKEN.match(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = params.get_int("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = params.get_json("allowed_updates") if params.has("allowed_updates") else None
        if allowed is not None and not isinstance(allowed, list):
            raise bad_request("can't parse allowed_updates JSON object")
        self.world.set_webhook(
            bot,
            url=url,
            secret=secret,
            max_connections=max_connections,
            allowed_updates=[str(kind) for kind in allowed] if allowed is not None else None,
            drop_pending=params.get_bool("drop_pending_updates"),
        )
        self._restart_delivery(bot)
        return _Described(True, "Webhook was set" if url else "Webhook was deleted")

    async def delete_webhook(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``deleteWebhook``: return to getUpdates, optionally dropping pending updates."""
        had_webhook = bool(bot.webhook_url)
        self.world.set_webhook(
            bot,
            url="",
            secret=None,
            max_connections=bot.webhook_max_connections,
            allowed_updates=None,
            drop_pending=params.get_bool("drop_pending_updates"),
        )
        self._restart_delivery(bot)
        return _Described(True, "Webhook was deleted" if had_webhook else "Webhook is already deleted")

    async def get_webhook_info(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``getWebhookInfo``: current URL, pending count and the last delivery error."""
        return self.world.webhook_info(bot)

    async def get_managed_bot_token(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``getManagedBotToken``: the current token of a bot this bot manages, as a plain string.

        Only the manager may read it; for any other bot the answer is 400 ``BOT_INVALID``.
        """
        managed = self.world.managed_bot(bot, params.get_int("user_id"))
        return managed.token

    async def replace_managed_bot_token(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``replaceManagedBotToken``: revoke a managed bot's token and return the new one.

        From then on the old token answers 401 Unauthorized to every call, and the manager gets the
        ``managed_bot`` update Telegram sends when a managed bot's token changes.
        """
        managed = self.world.managed_bot(bot, params.get_int("user_id"))
        new_token = self.world.rotate_token(managed)
        log.info("managed bot token replaced", bot_id=managed.id, manager_id=bot.id)
        return new_token

    async def log_out(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``logOut`` and ``close``: nothing to release locally, so they simply succeed."""
        return True

    # ---------------------------------------------------------------------- webhook delivery

    def _restart_delivery(self, bot: BotRecord) -> None:
        """Replace the bot's delivery task after its webhook settings changed."""
        old = self._webhook_tasks.pop(bot.id, None)
        if old is not None:
            old.cancel()
        if bot.webhook_url:
            self._webhook_tasks[bot.id] = asyncio.create_task(
                self._deliver(bot, bot.webhook_generation), name=f"webhook-{bot.id}"
            )

    async def _deliver(self, bot: BotRecord, generation: int) -> None:
        """POST pending updates one at a time, in order, retrying failures with capped backoff."""
        backoff = self.webhook_retry_initial
        while bot.webhook_generation == generation and not bot.revoked:
            if not bot.pending:
                await bot.updates.wait(60.0)
                continue
            update = bot.pending[0]
            error = await self._post_update(bot, update)
            if bot.webhook_generation != generation:
                return
            if error is None:
                self.world.confirm_one(bot, update["update_id"])
                backoff = self.webhook_retry_initial
                continue
            bot.webhook_last_error_date = int(self.world.clock())
            bot.webhook_last_error_message = error
            log.info("webhook delivery failed", bot_id=bot.id, error=error, retry_in_s=round(backoff, 2))
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.webhook_retry_max)

    async def _post_update(self, bot: BotRecord, update: JsonDict) -> str | None:
        """Deliver one update; return None on a 2xx answer, otherwise Telegram's error wording."""
        assert self._http is not None
        headers = {"Content-Type": "application/json"}
        if bot.webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = bot.webhook_secret
        try:
            async with self._http.post(
                bot.webhook_url,
                data=json.dumps(update),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as response:
                if not 200 <= response.status < 300:
                    return f"Wrong response from the webhook: {response.status} {response.reason}"
                await self._run_webhook_reply(bot, response)
        except TimeoutError:
            return "Read timeout expired"
        except aiohttp.ClientError as exc:
            return f"Connection failed: {type(exc).__name__}"
        return None

    async def _run_webhook_reply(self, bot: BotRecord, response: aiohttp.ClientResponse) -> None:
        """Execute a method the webhook answered with, as Telegram allows (aiogram sends multipart)."""
        fields: dict[str, Any] = {}
        ctype = response.content_type
        try:
            if ctype == "multipart/form-data":
                reader = aiohttp.MultipartReader(response.headers, response.content)
                while True:
                    part = await reader.next()
                    if part is None:
                        break
                    if isinstance(part, aiohttp.BodyPartReader) and part.name:
                        fields[part.name] = await part.text()
            elif ctype == "application/json":
                body = await response.json()
                if isinstance(body, dict):
                    fields = body
        except (ValueError, aiohttp.ClientError) as exc:
            log.info("unreadable webhook reply", bot_id=bot.id, error=type(exc).__name__)
            return
        method = fields.pop("method", None)
        if not method:
            return
        try:
            await self.call(bot, bot.token, str(method), Params(fields))
        except BotApiError as exc:
            log.info("webhook reply method failed", method=str(method), bot_id=bot.id, error=exc.description)


class _Described:
    """A method result that also carries Telegram's success ``description`` (e.g. "Webhook was set")."""

    def __init__(self, result: Any, description: str) -> None:
        """Keep the result and its description."""
        self.result = result
        self.description = description
