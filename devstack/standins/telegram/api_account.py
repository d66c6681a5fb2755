"""Bot API methods about the bot itself: ``getMe``, commands, name and descriptions, managed bots' tokens.

These read and write the bot's own account rather than a chat; ``getManagedBotToken`` and
``replaceManagedBotToken`` let a manager bot read and re-key the bots it manages, and nobody else.
"""

from __future__ import annotations

import json
import re
from typing import Any

import structlog

from devstack.standins.telegram.api_params import Handler, Params
from devstack.standins.telegram.errors import JsonDict, bad_request
from devstack.standins.telegram.records import BotRecord
from devstack.standins.telegram.state import World

log = structlog.get_logger("devstack.standins.telegram.botapi")

_BOT_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")


class AccountMethods:
    """``getMe``, ``*MyCommands``, ``*MyName``/``*MyDescription``, managed-bot tokens, ``logOut``/``close``."""

    def __init__(self, world: World) -> None:
        """Bind to the world that holds the bot accounts."""
        self.world = world

    def handlers(self) -> dict[str, Handler]:
        """The methods by their Bot API names."""
        return {
            "getMe": self.get_me,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
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
        }

    async def get_me(self, bot: BotRecord, token: str, params: Params) -> Any:
        """``getMe``: the bot's own ``User`` with the bot-only capability fields."""
        return bot.get_me()

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
