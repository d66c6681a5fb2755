"""A local Telegram Bot API stand-in that unmodified aiogram bots can talk to over HTTP.

``server.create_app`` builds the aiohttp application (Bot API routes plus the ``/control`` API),
``python -m devstack.standins.telegram`` runs it, and ``client.TelegramControl`` drives it from tests.
"""
