"""A bot's queue of pending updates: numbering, filtering by ``allowed_updates`` and confirmation.

Both ways of receiving updates read this one queue: ``getUpdates`` confirms by offset, webhook delivery
confirms one update at a time once the receiver accepted it. Queueing wakes the bot's ``updates``
notifier, so a held long poll or an idle webhook sender returns the moment an update exists.
"""

from __future__ import annotations

from collections import deque

from devstack.standins.telegram.errors import JsonDict
from devstack.standins.telegram.records import BotRecord


def enqueue_update(bot: BotRecord, update_type: str, payload: JsonDict) -> int | None:
    """Queue an update for the bot with the next update id, unless ``allowed_updates`` filters it."""
    if not bot.accepts(update_type):
        return None
    update_id = bot.next_update_id
    bot.next_update_id += 1
    bot.pending.append({"update_id": update_id, update_type: payload})
    bot.updates.notify()
    return update_id


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


def confirm_one(bot: BotRecord, update_id: int) -> None:
    """Forget a single update a webhook accepted."""
    if bot.pending and bot.pending[0]["update_id"] == update_id:
        bot.pending.popleft()
    else:
        bot.pending = deque(u for u in bot.pending if u["update_id"] != update_id)


def peek_updates(bot: BotRecord, limit: int) -> list[JsonDict]:
    """Return up to ``limit`` unconfirmed updates, oldest first, without forgetting them."""
    return [bot.pending[i] for i in range(min(limit, len(bot.pending)))]
