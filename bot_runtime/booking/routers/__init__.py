"""The bot's features as aiogram routers, included by ``create_dispatcher`` in order."""
