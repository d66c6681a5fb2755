"""In-memory world of the Telegram stand-in: bots, users, private chats, messages and pending updates.

``World`` holds every rule about *what* Telegram would do, without any HTTP, so the Bot API routes and
the control API share one consistent state. The rules are split by concept, one module each:

- ``records``: the dataclasses (bots, users, chats, messages, callback queries) and ``Notifier``;
- ``bots``: registering, finding, revoking and re-keying bot accounts;
- ``chats``: users, private chats, messages, button presses, rate limits and message rendering;
- ``updates``: a bot's queue of pending updates and its confirmation by offset;
- ``managed``: bots created through a manager's ``request_managed_bot`` button;
- ``webhooks``: push-delivery settings and the sender;
- ``errors``: the Bot API's and the control API's refusals.

Waiting is done with ``Notifier`` objects so long polls and control-API waits wake the moment something
changes.
"""

from __future__ import annotations

from devstack.standins.telegram.managed import ManagedBots


class World(ManagedBots):
    """The whole simulated Telegram: bots by token, id and username, users, and change notification.

    ``clock`` returns wall-clock seconds for message dates, ``monotonic`` measures rate-limit windows;
    both are injectable so the rules can be exercised deterministically.
    """
