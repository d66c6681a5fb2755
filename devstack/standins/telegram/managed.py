"""Managed bots: a user creates a bot through a manager bot's ``request_managed_bot`` button.

This is the Bot API's managed-bots feature the sales bot is built on: the manager needs BotFather's
bot-management switch, the user taps the button on the reply keyboard they see, and the manager gets
the ``managed_bot`` update and the ``managed_bot_created`` service message, then reads the new bot's
token with ``getManagedBotToken``. Only the manager may read or replace that token.
"""

from __future__ import annotations

import re

from devstack.standins.telegram.bots import Bots
from devstack.standins.telegram.chats import Chats
from devstack.standins.telegram.errors import ControlError, JsonDict, bad_request
from devstack.standins.telegram.records import BotRecord, StoredMessage, UserRecord
from devstack.standins.telegram.updates import enqueue_update

#: What Telegram accepts as a new bot's username: 5-32 characters, a letter first, ending in "bot".
_BOT_USERNAME_SHAPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{1,28}[Bb][Oo][Tt]$")
MAX_BOT_NAME_LENGTH = 64


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


class ManagedBots(Bots, Chats):
    """The managed-bot rules of ``World``, which create bots (``Bots``) and messages (``Chats``)."""

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
        managed_update = enqueue_update(manager, "managed_bot", {"user": user.to_api(), "bot": bot_user})
        message = self._store(
            chat, from_bot=False, text="", entities=[], reply_markup=None, reply_to_message_id=None
        )
        message.service = {"managed_bot_created": {"bot": bot_user}}
        if chat.reply_keyboard is not None and chat.reply_keyboard.get("one_time_keyboard"):
            chat.reply_keyboard = None
            chat.reply_keyboard_message_id = None
        self._event(
            chat,
            "managed_bot_created",
            message_id=message.message_id,
            bot_id=bot.id,
            username=bot.username,
            user_id=user.id,
        )
        message_update = enqueue_update(manager, "message", self.message_api(manager, message))
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
