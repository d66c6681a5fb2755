"""In-memory world of the Telegram stand-in: bots, users, private chats, messages and pending updates.

This module holds every rule about *what* Telegram would do (message numbering per chat, update ids,
confirming updates by offset, which buttons exist, rate limits) without any HTTP, so the Bot API routes
and the control API can share one consistent state and the rules can be read in one place. Waiting is
done with ``Notifier`` objects so long polls and control-API waits wake the moment something changes.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
import secrets
import string
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from devstack.standins.telegram.formatting import utf16_len

JsonDict = dict[str, Any]

#: Update types Telegram delivers when a bot never asked for a specific list.
DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
        "managed_bot",
    }
)

MAX_MESSAGE_LENGTH = 4096
TOKEN_SECRET_LENGTH = 35
_TOKEN_SHAPE = re.compile(r"^(\d{1,20}):([A-Za-z0-9_-]{1,128})$")
_USERNAME_SHAPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,31}$")
#: What Telegram accepts as a new bot's username: 5-32 characters, a letter first, ending in "bot".
_BOT_USERNAME_SHAPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{1,28}[Bb][Oo][Tt]$")
MAX_BOT_NAME_LENGTH = 64
_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_URL_SAFE = string.ascii_letters + string.digits + "-_"


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


class Notifier:
    """Wakes every coroutine waiting for "something changed", without polling.

    A waiter captures the current event before suspending and ``notify`` swaps in a fresh one after
    setting it, so a change that happens between checking a condition and waiting is never missed.
    """

    def __init__(self) -> None:
        """Start with an unset event; asyncio binds it to the running loop lazily."""
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake all current waiters; later waiters wait for the next change."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for the next change and report whether one happened."""
        event = self._event
        if seconds <= 0:
            return False
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
        except TimeoutError:
            return False
        return True


@dataclass
class UserRecord:
    """A Telegram user acted out by tests through the control API."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    def to_api(self) -> JsonDict:
        """Return the user as a Bot API ``User`` object."""
        data: JsonDict = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data

    def chat_api(self) -> JsonDict:
        """Return the user's private chat as a Bot API ``Chat`` object."""
        data: JsonDict = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        return data


@dataclass
class StoredMessage:
    """One message in a chat, either sent by the bot or by the user, with its current content."""

    message_id: int
    chat_id: int
    date: int
    from_bot: bool
    text: str
    entities: list[JsonDict]
    reply_markup: JsonDict | None
    reply_to_message_id: int | None = None
    edit_date: int | None = None
    deleted: bool = False
    #: Fields of a service message (e.g. ``{"managed_bot_created": {...}}``), rendered instead of text.
    service: JsonDict | None = None


@dataclass
class ChatRecord:
    """The private chat between one bot and one user: message numbering, history and send rate."""

    id: int
    user: UserRecord
    chat_instance: str
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    next_message_id: int = 1
    events: list[JsonDict] = field(default_factory=list)
    send_times: deque[float] = field(default_factory=deque)
    #: The reply keyboard the user currently sees under the input field (it outlives its message) and
    #: the message that brought it; a later reply keyboard replaces it, ``remove_keyboard`` hides it.
    reply_keyboard: JsonDict | None = None
    reply_keyboard_message_id: int | None = None


@dataclass
class CallbackRecord:
    """A callback query produced by a button press, and the bot's answer once it gives one."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created_at: float
    answer: JsonDict | None = None


@dataclass
class RateLimit:
    """At most ``limit`` sending calls per chat in any ``window`` seconds; more get 429."""

    limit: int
    window: float = 1.0


@dataclass
class BotRecord:
    """Everything the stand-in knows about one bot account."""

    id: int
    token: str
    username: str
    first_name: str
    next_update_id: int
    webhook_url: str = ""
    webhook_secret: str | None = None
    webhook_max_connections: int = 40
    webhook_last_error_date: int | None = None
    webhook_last_error_message: str | None = None
    webhook_generation: int = 0
    allowed_updates: list[str] = field(default_factory=list)
    pending: deque[JsonDict] = field(default_factory=deque)
    updates: Notifier = field(default_factory=Notifier)
    poll_generation: int = 0
    active_polls: int = 0
    last_poll_at: float | None = None
    revoked: bool = False
    commands: dict[tuple[str, str], list[JsonDict]] = field(default_factory=dict)
    properties: dict[tuple[str, str], Any] = field(default_factory=dict)
    chats: dict[int, ChatRecord] = field(default_factory=dict)
    callbacks: dict[str, CallbackRecord] = field(default_factory=dict)
    rate_limit: RateLimit | None = None
    #: BotFather's "bot management" setting: only such a bot's ``request_managed_bot`` button works.
    can_manage_bots: bool = False
    #: For a managed bot: the id of the bot that manages it and of the user who created (owns) it.
    managed_by: int | None = None
    owner_id: int | None = None

    def to_api(self) -> JsonDict:
        """Return the bot as the ``User`` object found in ``from`` fields of its messages."""
        return {"id": self.id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    def get_me(self) -> JsonDict:
        """Return the bot as ``getMe`` describes it, including the bot-only capability flags."""
        return {
            **self.to_api(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
            "can_manage_bots": self.can_manage_bots,
        }

    def accepts(self, update_type: str) -> bool:
        """Tell whether the bot's ``allowed_updates`` setting lets this update type through."""
        if self.allowed_updates:
            return update_type in self.allowed_updates
        return update_type in DEFAULT_ALLOWED_UPDATES


def command_entities(text: str) -> list[JsonDict]:
    """Find ``/command`` and ``/command@bot`` tokens the way Telegram marks them as ``bot_command``."""
    return [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group(0))}
        for m in _COMMAND.finditer(text)
    ]


def inline_buttons(markup: JsonDict | None) -> list[JsonDict]:
    """List the buttons of an inline keyboard, or nothing for any other kind of markup."""
    if not markup or "inline_keyboard" not in markup:
        return []
    return [button for row in markup["inline_keyboard"] for button in row if isinstance(button, dict)]


def managed_bot_requests(markup: JsonDict | None) -> list[JsonDict]:
    """List the ``request_managed_bot`` parameters of a reply keyboard's buttons, in keyboard order."""
    if not markup or "keyboard" not in markup:
        return []
    return [
        button["request_managed_bot"]
        for row in markup["keyboard"]
        for button in row
        if isinstance(button, dict) and isinstance(button.get("request_managed_bot"), dict)
    ]


class World:
    """The whole simulated Telegram: bots by token, id and username, users, and change notification.

    ``clock`` returns wall-clock seconds for message dates, ``monotonic`` measures rate-limit windows;
    both are injectable so the rules can be exercised deterministically.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create an empty world with no bots, no users and rate limiting off."""
        self.clock = clock
        self.monotonic = monotonic
        self.bots_by_token: dict[str, BotRecord] = {}
        self.bots_by_id: dict[int, BotRecord] = {}
        self.bots_by_username: dict[str, BotRecord] = {}
        self.users: dict[int, UserRecord] = {}
        self.default_rate_limit: RateLimit | None = None
        self.changed = Notifier()
        self.closing = False
        self._event_seq = 0

    def close(self) -> None:
        """Mark the world as shutting down and wake every waiter so held requests end promptly."""
        self.closing = True
        for bot in self.bots_by_id.values():
            bot.updates.notify()
        self.changed.notify()

    # ------------------------------------------------------------------------------------ bots

    def create_bot(
        self,
        *,
        username: str | None = None,
        token: str | None = None,
        first_name: str | None = None,
        can_manage_bots: bool | None = None,
    ) -> tuple[BotRecord, bool]:
        """Register a bot, or return the existing one with that username; report whether it is new.

        A given token must have Telegram's shape ``<digits>:<secret>``; its digits become the bot id,
        as aiogram assumes. Without a token one of the real shape is generated. ``can_manage_bots``
        plays BotFather's bot-management switch and is applied to an existing bot too.
        """
        if username is not None:
            username = username.removeprefix("@")
            if not _USERNAME_SHAPE.match(username):
                raise ControlError(400, "username must be 3-32 letters, digits or underscores")
            existing = self.bots_by_username.get(username.lower())
            if existing is not None:
                if token is not None and token != existing.token:
                    raise ControlError(409, "a bot with this username exists with another token")
                if can_manage_bots is not None:
                    existing.can_manage_bots = can_manage_bots
                return existing, False
        if token is not None:
            match = _TOKEN_SHAPE.match(token)
            if match is None:
                raise ControlError(400, "token must look like <digits>:<secret>")
            bot_id = int(match.group(1))
            if token in self.bots_by_token or bot_id in self.bots_by_id:
                raise ControlError(409, "a bot with this token or id exists under another username")
        else:
            bot_id = self._new_bot_id()
            token = f"{bot_id}:{self._token_secret()}"
        if username is None:
            username = f"standin_{bot_id}_bot"
        bot = BotRecord(
            id=bot_id,
            token=token,
            username=username,
            first_name=first_name or username,
            next_update_id=100_000_000 + secrets.randbelow(800_000_000),
            can_manage_bots=bool(can_manage_bots),
        )
        self.bots_by_token[token] = bot
        self.bots_by_id[bot_id] = bot
        self.bots_by_username[username.lower()] = bot
        return bot, True

    def _new_bot_id(self) -> int:
        """Pick an unused ten-digit bot id like the ones Telegram hands out today."""
        while True:
            bot_id = 7_000_000_000 + secrets.randbelow(1_000_000_000)
            if bot_id not in self.bots_by_id:
                return bot_id

    @staticmethod
    def _token_secret() -> str:
        """Return the 35 url-safe characters after the colon of a Telegram token."""
        return "".join(secrets.choice(_URL_SAFE) for _ in range(TOKEN_SECRET_LENGTH))

    def bot_by_token(self, token: str) -> BotRecord | None:
        """Return the live bot owning ``token``, or None, which the Bot API reports as 401."""
        return self.bots_by_token.get(token)

    def resolve_bot(self, ref: str | int | None) -> BotRecord:
        """Find a live bot by token, numeric id or username, as control-API callers may name it."""
        if ref is None or ref == "":
            raise ControlError(400, "bot is required")
        text = str(ref).strip()
        bot = self.bots_by_token.get(text)
        if bot is None and text.lstrip("-").isdigit():
            bot = self.bots_by_id.get(int(text))
        if bot is None:
            bot = self.bots_by_username.get(text.removeprefix("@").lower())
        if bot is None:
            raise ControlError(404, "bot not found")
        return bot

    def revoke_bot(self, bot: BotRecord) -> None:
        """Delete a bot so its token answers 401 and anything waiting on it wakes up."""
        bot.revoked = True
        self.bots_by_token.pop(bot.token, None)
        self.bots_by_id.pop(bot.id, None)
        self.bots_by_username.pop(bot.username.lower(), None)
        bot.webhook_generation += 1
        bot.updates.notify()
        self.changed.notify()

    def rotate_token(self, bot: BotRecord) -> str:
        """Issue a new secret for the same bot id, revoking the old token as BotFather's /revoke does.

        The old token answers 401 from now on (a long poll held with it ends with 401 too). For a managed
        bot the manager gets a ``managed_bot`` update, which the Bot API sends when a managed bot's token
        changes, so it can fetch the new one with ``getManagedBotToken``.
        """
        self.bots_by_token.pop(bot.token, None)
        bot.token = f"{bot.id}:{self._token_secret()}"
        self.bots_by_token[bot.token] = bot
        bot.updates.notify()
        manager = self.bots_by_id.get(bot.managed_by) if bot.managed_by is not None else None
        owner = self.users.get(bot.owner_id) if bot.owner_id is not None else None
        if manager is not None and owner is not None:
            self.enqueue_update(manager, "managed_bot", {"user": owner.to_api(), "bot": bot.to_api()})
        self.changed.notify()
        return bot.token

    # ---------------------------------------------------------------------------- managed bots

    def create_managed_bot(
        self,
        manager: BotRecord,
        user: UserRecord,
        *,
        request_id: int | None = None,
        username: str | None = None,
        name: str | None = None,
    ) -> tuple[BotRecord, StoredMessage, JsonDict]:
        """Play a user tapping a ``request_managed_bot`` button and creating the bot it asks for.

        The button must be on the reply keyboard the user sees in the chat with ``manager`` (choose one
        by ``request_id`` when there are several) and the manager must have bot management enabled.
        Username and name default to the button's suggestions, as the Telegram client pre-fills them;
        the username must satisfy Telegram's rule for bots and be free. Then, as Telegram does, the
        manager gets the ``managed_bot`` update and the user's service message with
        ``managed_bot_created`` in the same chat, in that order, and a one-time keyboard is hidden.
        Returns the new bot, the service message and the ids of the two updates.
        """
        chat = manager.chats.get(user.id)
        if chat is None:
            raise ControlError(404, "this user has no chat with the bot")
        requests = managed_bot_requests(chat.reply_keyboard)
        if request_id is not None:
            requests = [r for r in requests if r.get("request_id") == request_id]
        if not requests:
            wanted = f" with request_id {request_id}" if request_id is not None else ""
            raise ControlError(409, f"the chat shows no request_managed_bot button{wanted}")
        if len(requests) > 1:
            raise ControlError(400, "the keyboard has several request_managed_bot buttons; give request_id")
        if not manager.can_manage_bots:
            raise ControlError(
                409, "bot management is not enabled for this bot (BotFather's setting: create it with can_manage_bots)"
            )
        request = requests[0]
        username = (username or request.get("suggested_username") or "").removeprefix("@") or None
        if username is not None:
            if not _BOT_USERNAME_SHAPE.match(username):
                raise ControlError(400, "a bot username must be 5-32 letters, digits or underscores ending in 'bot'")
            if username.lower() in self.bots_by_username:
                raise ControlError(409, "this username is already taken")
        name = (name or request.get("suggested_name") or "").strip() or None
        if name is not None and len(name) > MAX_BOT_NAME_LENGTH:
            raise ControlError(400, f"a bot name must be at most {MAX_BOT_NAME_LENGTH} characters")
        bot, _ = self.create_bot(username=username, first_name=name)
        bot.managed_by = manager.id
        bot.owner_id = user.id
        bot_user = bot.to_api()
        managed_update = self.enqueue_update(manager, "managed_bot", {"user": user.to_api(), "bot": bot_user})
        message = self._store(
            chat, from_bot=False, text="", entities=[], reply_markup=None, reply_to_message_id=None
        )
        message.service = {"managed_bot_created": {"bot": bot_user}}
        if chat.reply_keyboard is not None and chat.reply_keyboard.get("one_time_keyboard"):
            chat.reply_keyboard = None
            chat.reply_keyboard_message_id = None
        self._event_seq += 1
        chat.events.append(
            {
                "seq": self._event_seq,
                "kind": "managed_bot_created",
                "message_id": message.message_id,
                "bot_id": bot.id,
                "username": bot.username,
                "user_id": user.id,
                "at": self.clock(),
            }
        )
        message_update = self.enqueue_update(manager, "message", self.message_api(manager, message))
        self.changed.notify()
        return bot, message, {"managed_bot": managed_update, "message": message_update}

    def managed_bot(self, manager: BotRecord, user_id: int | None) -> BotRecord:
        """Return the bot ``user_id`` names if ``manager`` manages it; any other bot is refused.

        Telegram refuses a bot that is not managed by the caller with MTProto's ``BOT_INVALID``, which
        the Bot API passes on as a 400.
        """
        if user_id is None:
            raise bad_request("invalid user_id specified")
        bot = self.bots_by_id.get(user_id)
        if bot is None or bot.managed_by != manager.id:
            raise bad_request("BOT_INVALID")
        return bot

    # ----------------------------------------------------------------------------------- users

    def upsert_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> UserRecord:
        """Create a user or refresh the profile fields a later control call provides."""
        user = self.users.get(user_id)
        if user is None:
            user = UserRecord(user_id, first_name, last_name, username, language_code)
            self.users[user_id] = user
        else:
            user.first_name = first_name
            user.last_name = last_name if last_name is not None else user.last_name
            user.username = username if username is not None else user.username
            user.language_code = language_code if language_code is not None else user.language_code
        return user

    def open_chat(self, bot: BotRecord, user: UserRecord) -> ChatRecord:
        """Return the private chat between ``bot`` and ``user``, creating it on first contact."""
        chat = bot.chats.get(user.id)
        if chat is None:
            digest = hashlib.sha256(f"{bot.id}:{user.id}".encode()).digest()
            instance = str(-int.from_bytes(digest[:8], "big") // 2)
            chat = ChatRecord(id=user.id, user=user, chat_instance=instance)
            bot.chats[user.id] = chat
        return chat

    def chat_for_bot(self, bot: BotRecord, chat_id: int | str) -> ChatRecord:
        """Resolve a ``chat_id`` parameter of a bot call to a chat the bot may write to.

        Like Telegram, a bot cannot start a conversation: a known user who never wrote to this bot is
        403, an unknown id or an ``@username`` of a private user is 400 "chat not found".
        """
        if isinstance(chat_id, int):
            chat = bot.chats.get(chat_id)
            if chat is not None:
                return chat
            if chat_id in self.users:
                raise BotApiError(403, "Forbidden: bot can't initiate conversation with a user")
        raise bad_request("chat not found")

    # -------------------------------------------------------------------------------- messages

    def _store(
        self,
        chat: ChatRecord,
        *,
        from_bot: bool,
        text: str,
        entities: list[JsonDict],
        reply_markup: JsonDict | None,
        reply_to_message_id: int | None,
    ) -> StoredMessage:
        """Append a message to a chat with the next per-chat message id."""
        message = StoredMessage(
            message_id=chat.next_message_id,
            chat_id=chat.id,
            date=int(self.clock()),
            from_bot=from_bot,
            text=text,
            entities=entities,
            reply_markup=reply_markup,
            reply_to_message_id=reply_to_message_id,
        )
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        return message

    def _log(self, chat: ChatRecord, kind: str, message: StoredMessage, **extra: Any) -> None:
        """Append to a chat's ordered event log and wake control-API waiters."""
        self._event_seq += 1
        chat.events.append(
            {
                "seq": self._event_seq,
                "kind": kind,
                "message_id": message.message_id,
                "text": message.text,
                "reply_markup": message.reply_markup,
                "at": self.clock(),
                **extra,
            }
        )
        self.changed.notify()

    def user_sends(
        self,
        bot: BotRecord,
        user: UserRecord,
        text: str,
        *,
        reply_to_message_id: int | None = None,
    ) -> tuple[StoredMessage, int | None]:
        """Deliver a user's text message to a bot and queue the ``message`` update for it."""
        if not text:
            raise ControlError(400, "text must not be empty")
        chat = self.open_chat(bot, user)
        if reply_to_message_id is not None and reply_to_message_id not in chat.messages:
            raise ControlError(404, "message to reply to not found")
        message = self._store(
            chat,
            from_bot=False,
            text=text,
            entities=command_entities(text),
            reply_markup=None,
            reply_to_message_id=reply_to_message_id,
        )
        self._log(chat, "user_message", message, user_id=user.id)
        update_id = self.enqueue_update(bot, "message", self.message_api(bot, message))
        return message, update_id

    def press_button(
        self, bot: BotRecord, user: UserRecord, message_id: int, data: str, *, force: bool = False
    ) -> tuple[CallbackRecord, int | None]:
        """Press an inline button under a bot message and queue the ``callback_query`` update.

        Unless ``force`` is set the message must exist, belong to the bot and carry a button with this
        ``callback_data``; ``force`` lets tests press stale or invented buttons, and a missing message
        is then delivered as an ``InaccessibleMessage`` (date 0) like Telegram does for old messages.
        """
        chat = bot.chats.get(user.id)
        if chat is None:
            if not force:
                raise ControlError(404, "this user has no chat with the bot")
            chat = self.open_chat(bot, user)
        message = chat.messages.get(message_id)
        if not force:
            if message is None or message.deleted or not message.from_bot:
                raise ControlError(404, "no bot message with this id in the chat")
            if not any(b.get("callback_data") == data for b in inline_buttons(message.reply_markup)):
                raise ControlError(409, "the message has no inline button with this callback data")
        callback = CallbackRecord(
            id=str(secrets.randbits(62)),
            user_id=user.id,
            chat_id=chat.id,
            message_id=message_id,
            data=data,
            created_at=self.clock(),
        )
        bot.callbacks[callback.id] = callback
        if message is not None and not message.deleted:
            message_json = self.message_api(bot, message)
        else:
            message_json = {"chat": user.chat_api(), "message_id": message_id, "date": 0}
        payload = {
            "id": callback.id,
            "from": user.to_api(),
            "message": message_json,
            "chat_instance": chat.chat_instance,
            "data": data,
        }
        self._event_seq += 1
        chat.events.append(
            {
                "seq": self._event_seq,
                "kind": "callback_query",
                "message_id": message_id,
                "data": data,
                "callback_query_id": callback.id,
                "user_id": user.id,
                "at": self.clock(),
            }
        )
        self.changed.notify()
        return callback, self.enqueue_update(bot, "callback_query", payload)

    def check_rate(self, bot: BotRecord, chat: ChatRecord) -> None:
        """Count one sending call in a chat, refusing it with 429 when the configured rate is exceeded."""
        limit = bot.rate_limit or self.default_rate_limit
        if limit is None:
            return
        now = self.monotonic()
        times = chat.send_times
        while times and times[0] <= now - limit.window:
            times.popleft()
        if len(times) >= limit.limit:
            retry_after = max(1, math.ceil(times[0] + limit.window - now))
            raise BotApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        times.append(now)

    def bot_sends(
        self,
        bot: BotRecord,
        chat: ChatRecord,
        *,
        text: str,
        entities: list[JsonDict],
        reply_markup: JsonDict | None,
        reply_to_message_id: int | None,
    ) -> StoredMessage:
        """Store a message the bot sent (already validated) and log it."""
        message = self._store(
            chat,
            from_bot=True,
            text=text,
            entities=entities,
            reply_markup=reply_markup,
            reply_to_message_id=reply_to_message_id,
        )
        if reply_markup is not None and "keyboard" in reply_markup:
            chat.reply_keyboard = reply_markup
            chat.reply_keyboard_message_id = message.message_id
        elif reply_markup is not None and "remove_keyboard" in reply_markup:
            chat.reply_keyboard = None
            chat.reply_keyboard_message_id = None
        self._log(chat, "send", message)
        return message

    def bot_edits(
        self,
        chat: ChatRecord,
        message: StoredMessage,
        *,
        kind: str,
        text: str,
        entities: list[JsonDict],
        reply_markup: JsonDict | None,
    ) -> StoredMessage:
        """Apply an edit to a bot message, refusing one that changes nothing as Telegram does."""
        if text == message.text and entities == message.entities and reply_markup == message.reply_markup:
            raise bad_request(
                "message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message"
            )
        message.text = text
        message.entities = entities
        message.reply_markup = reply_markup
        message.edit_date = int(self.clock())
        self._log(chat, kind, message)
        return message

    def bot_deletes(self, chat: ChatRecord, message: StoredMessage) -> None:
        """Mark a message deleted; it stays listed for the control API with ``deleted`` set."""
        message.deleted = True
        self._log(chat, "delete", message)

    def answer_callback(self, bot: BotRecord, callback_id: str, answer: JsonDict) -> None:
        """Record a bot's answer to a callback query; unknown or already answered ids are refused."""
        callback = bot.callbacks.get(callback_id)
        if callback is None or callback.answer is not None:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        callback.answer = {**answer, "answered_at": self.clock()}
        self.changed.notify()

    def message_api(self, bot: BotRecord, message: StoredMessage, *, nested: bool = False) -> JsonDict:
        """Render a stored message as the Bot API ``Message`` object a bot receives or gets back.

        Only inline keyboards appear in ``reply_markup``, and a replied-to message is embedded one level
        deep, as in real updates.
        """
        chat = bot.chats[message.chat_id]
        data: JsonDict = {
            "message_id": message.message_id,
            "from": bot.to_api() if message.from_bot else chat.user.to_api(),
            "chat": chat.user.chat_api(),
            "date": message.date,
        }
        if message.edit_date is not None:
            data["edit_date"] = message.edit_date
        if message.reply_to_message_id is not None and not nested:
            replied = chat.messages.get(message.reply_to_message_id)
            if replied is not None:
                data["reply_to_message"] = self.message_api(bot, replied, nested=True)
        if message.service is not None:
            data.update(message.service)
            return data
        data["text"] = message.text
        if message.entities:
            data["entities"] = message.entities
        if message.reply_markup and "inline_keyboard" in message.reply_markup:
            data["reply_markup"] = message.reply_markup
        return data

    @staticmethod
    def message_view(message: StoredMessage) -> JsonDict:
        """Render a message for the control API: current content, any kind of markup, deletion flag."""
        return {
            "message_id": message.message_id,
            "chat_id": message.chat_id,
            "from_bot": message.from_bot,
            "date": message.date,
            "edit_date": message.edit_date,
            "text": message.text,
            "entities": message.entities,
            "reply_markup": message.reply_markup,
            "reply_to_message_id": message.reply_to_message_id,
            "deleted": message.deleted,
            **(message.service or {}),
        }

    # --------------------------------------------------------------------------------- updates

    def enqueue_update(self, bot: BotRecord, update_type: str, payload: JsonDict) -> int | None:
        """Queue an update for the bot with the next update id, unless ``allowed_updates`` filters it."""
        if not bot.accepts(update_type):
            return None
        update_id = bot.next_update_id
        bot.next_update_id += 1
        bot.pending.append({"update_id": update_id, update_type: payload})
        bot.updates.notify()
        return update_id

    @staticmethod
    def confirm_updates(bot: BotRecord, offset: int | None) -> None:
        """Forget updates the way ``getUpdates(offset=...)`` does.

        A positive offset confirms every update below it; a negative one keeps only the last
        ``-offset`` updates; zero or none leaves the queue alone.
        """
        if not offset:
            return
        if offset > 0:
            while bot.pending and bot.pending[0]["update_id"] < offset:
                bot.pending.popleft()
        else:
            while len(bot.pending) > -offset:
                bot.pending.popleft()

    @staticmethod
    def confirm_one(bot: BotRecord, update_id: int) -> None:
        """Forget a single update a webhook accepted."""
        if bot.pending and bot.pending[0]["update_id"] == update_id:
            bot.pending.popleft()
        else:
            bot.pending = deque(u for u in bot.pending if u["update_id"] != update_id)

    @staticmethod
    def peek_updates(bot: BotRecord, limit: int) -> list[JsonDict]:
        """Return up to ``limit`` unconfirmed updates, oldest first, without forgetting them."""
        return [bot.pending[i] for i in range(min(limit, len(bot.pending)))]

    def set_webhook(
        self,
        bot: BotRecord,
        *,
        url: str,
        secret: str | None,
        max_connections: int,
        allowed_updates: list[str] | None,
        drop_pending: bool,
    ) -> None:
        """Switch the bot to webhook delivery (or back to polling when ``url`` is empty)."""
        bot.webhook_url = url
        bot.webhook_secret = secret if url else None
        bot.webhook_max_connections = max_connections
        bot.webhook_last_error_date = None
        bot.webhook_last_error_message = None
        if allowed_updates is not None:
            bot.allowed_updates = allowed_updates
        if drop_pending:
            bot.pending.clear()
        bot.webhook_generation += 1
        bot.updates.notify()

    def webhook_info(self, bot: BotRecord) -> JsonDict:
        """Return ``getWebhookInfo``'s ``WebhookInfo`` for the bot."""
        info: JsonDict = {
            "url": bot.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(bot.pending),
        }
        if bot.webhook_url:
            info["max_connections"] = bot.webhook_max_connections
            info["ip_address"] = "127.0.0.1"
        if bot.webhook_last_error_date is not None:
            info["last_error_date"] = bot.webhook_last_error_date
            info["last_error_message"] = bot.webhook_last_error_message
        if bot.allowed_updates:
            info["allowed_updates"] = bot.allowed_updates
        return info
