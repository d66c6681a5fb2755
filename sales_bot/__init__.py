"""The sales bot: a salon owner picks a tariff, gets a bot in one tap (or pastes a BotFather token),
names the salon, picks a time zone, pays through YooKassa and is told "ready" once the pool serves it.

``app`` builds the process (bot, dispatcher, notification endpoint, background tasks), ``routers`` the
conversation, ``fulfilment`` what happens after payment; see docs/sales.md.
"""
