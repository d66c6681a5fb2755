"""The registries every part of the simulated Telegram shares: bots, users, the clocks and change notification.

``World`` is assembled from parts, one concept each (``bots``, ``chats``, ``managed``); they all read
and write these same registries, so they share this one base rather than each keeping its own view.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from devstack.standins.telegram.records import BotRecord, ChatRecord, Notifier, RateLimit, UserRecord


class WorldCore:
    """The state of the simulated Telegram that every rule reads: bots by token, id and username, and users.

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

    def _event(self, chat: ChatRecord, kind: str, **fields: Any) -> None:
        """Append to a chat's ordered event log, which the control API shows as the chat's history."""
        self._event_seq += 1
        chat.events.append({"seq": self._event_seq, "kind": kind, **fields, "at": self.clock()})
