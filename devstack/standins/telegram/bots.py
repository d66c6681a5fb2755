"""Bot accounts of the simulated Telegram: registering, finding, revoking and re-keying bots.

This is BotFather's side: a bot's token has Telegram's shape ``<digits>:<secret>`` with the bot id in
front (aiogram relies on it), revoking makes the token answer 401, and rotating issues a new secret
for the same bot, as ``/revoke`` does.
"""

from __future__ import annotations

import re
import secrets
import string

from devstack.standins.telegram.core import WorldCore
from devstack.standins.telegram.errors import ControlError
from devstack.standins.telegram.records import BotRecord
from devstack.standins.telegram.updates import enqueue_update

TOKEN_SECRET_LENGTH = 35
_TOKEN_SHAPE = re.compile(r"^(\d{1,20}):([A-Za-z0-9_-]{1,128})$")
_USERNAME_SHAPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,31}$")
_URL_SAFE = string.ascii_letters + string.digits + "-_"


class Bots(WorldCore):
    """The bot-account rules of ``World``."""

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
            enqueue_update(manager, "managed_bot", {"user": owner.to_api(), "bot": bot.to_api()})
        self.changed.notify()
        return bot.token
