"""Users, private chats and messages of the simulated Telegram: who wrote what, and what bots did with it.

The rules a user or a bot meets in a chat live here: per-chat message numbering, a bot never starting
a conversation, buttons that must exist to be pressed, the per-chat send rate, edits that must change
something, and how a stored message renders as a Bot API ``Message``. Every change is appended to the
chat's event log and wakes control-API waiters.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from typing import Any

from devstack.standins.telegram.core import WorldCore
from devstack.standins.telegram.errors import BotApiError, ControlError, JsonDict, bad_request
from devstack.standins.telegram.formatting import utf16_len
from devstack.standins.telegram.records import BotRecord, CallbackRecord, ChatRecord, StoredMessage, UserRecord
from devstack.standins.telegram.updates import enqueue_update

MAX_MESSAGE_LENGTH = 4096
_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")


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


class Chats(WorldCore):
    """The user, chat and message rules of ``World``."""

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
        """Append a message's change to the chat's event log and wake control-API waiters."""
        self._event(
            chat,
            kind,
            message_id=message.message_id,
            text=message.text,
            reply_markup=message.reply_markup,
            **extra,
        )
        self.changed.notify()

    def user_sends(
        self,
        bot: BotRecord,
        user: UserRecord,
        text: str,
        *,
        reply_to_message_id: int | None = None,
        photo: bool = False,
    ) -> tuple[StoredMessage, int | None]:
        """Deliver a user's text message (or a photo, ``text`` its caption) and queue the ``message`` update."""
        if not text and not photo:
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
        if photo:
            # A photo message has no text: the sizes Telegram made of it, and the caption if any.
            unique = f"{chat.id}-{message.message_id}"
            sizes = [
                {"file_id": f"photo-{unique}-{w}", "file_unique_id": f"p{unique}{w}", "width": w, "height": w * 3 // 4,
                 "file_size": w * 60}
                for w in (90, 320, 800)
            ]
            message.service = {"photo": sizes, **({"caption": text} if text else {})}
        self._log(chat, "user_message", message, user_id=user.id)
        update_id = enqueue_update(bot, "message", self.message_api(bot, message))
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
        self._event(
            chat,
            "callback_query",
            message_id=message_id,
            data=data,
            callback_query_id=callback.id,
            user_id=user.id,
        )
        self.changed.notify()
        return callback, enqueue_update(bot, "callback_query", payload)

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
