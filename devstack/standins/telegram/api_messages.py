"""Bot API methods about chats and messages: send, edit and delete messages, answer buttons, read a chat.

Each method validates its parameters with Telegram's own wording (too long, empty, not modified, not
found) and then applies the chat rules of ``World``; the results are the Bot API objects aiogram parses.
"""

from __future__ import annotations

from typing import Any

from devstack.standins.telegram.api_markup import validate_reply_markup
from devstack.standins.telegram.api_params import Handler, Params
from devstack.standins.telegram.chats import MAX_MESSAGE_LENGTH
from devstack.standins.telegram.errors import JsonDict, bad_request
from devstack.standins.telegram.formatting import EntityParseError, parse_formatted
from devstack.standins.telegram.records import BotRecord, ChatRecord, StoredMessage
from devstack.standins.telegram.state import World


class MessageMethods:
    """``sendMessage``, the edits and deletions, ``answerCallbackQuery``, ``sendChatAction`` and ``getChat``."""

    def __init__(self, world: World) -> None:
        """Bind to the world whose chats the methods act in."""
        self.world = world

    def handlers(self) -> dict[str, Handler]:
        """The methods by their Bot API names."""
        return {
            "sendMessage": self.send_message,
            "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "deleteMessages": self.delete_messages,
            "answerCallbackQuery": self.answer_callback_query,
            "sendChatAction": self.send_chat_action,
            "getChat": self.get_chat,
        }

    def _chat(self, bot: BotRecord, params: Params) -> ChatRecord:
        """Resolve the ``chat_id`` parameter to a chat the bot may act in."""
        return self.world.chat_for_bot(bot, params.chat_id())

    def _editable(self, bot: BotRecord, params: Params) -> tuple[ChatRecord, StoredMessage]:
        """Find the bot's own message an edit names; inline messages are not simulated."""
        if params.has("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._chat(bot, params)
        message = self._message(chat, params, "message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return chat, message

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
        chat, message = self._editable(bot, params)
        text, entities = self._text(params, too_long="MESSAGE_TOO_LONG")
        markup = self._markup(params, inline_only=True)
        if markup is None and message.reply_markup and "inline_keyboard" not in message.reply_markup:
            markup = message.reply_markup
        self.world.check_rate(bot, chat)
        self.world.bot_edits(chat, message, kind="edit_text", text=text, entities=entities, reply_markup=markup)
        return self.world.message_api(bot, message)

    async def edit_message_reply_markup(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``editMessageReplyMarkup``: replace or (when omitted) remove the inline keyboard."""
        chat, message = self._editable(bot, params)
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
