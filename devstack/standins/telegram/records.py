"""The records the Telegram stand-in keeps: bots, users, private chats, messages and callback queries.

Plain dataclasses with the Bot API rendering of each (``to_api``), and the ``Notifier`` that lets long
polls and control-API waits wake the moment something changes. The rules that change them live in the
``World`` parts (``bots``, ``chats``, ``updates``, ``managed``, ``webhooks``).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from devstack.standins.telegram.errors import JsonDict

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
    #: getUpdates calls ended by a newer one (409): two instances polling one token (tests count double serving).
    poll_conflicts: int = 0
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

