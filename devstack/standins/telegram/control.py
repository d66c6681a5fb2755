"""Control API of the Telegram stand-in: the test's hands and eyes under ``/control/...``.

Tests cannot type into a Telegram client, so this JSON API plays the users (``control_chats``: send a
message, press an inline button, tap a "create a managed bot" button), manages bot accounts (this
module: create, revoke, rotate tokens, rate limits) and exposes what the bots did (messages with edits
and deletions applied, an ordered event log, callback answers). Waiting for a bot's reply or deletion
is a server-side long poll, so tests never sleep-loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from devstack.standins.telegram.control_chats import ChatControl
from devstack.standins.telegram.control_input import (
    as_bool,
    as_int,
    error_response,
    read_body,
    wait_seconds,
    wait_until,
)
from devstack.standins.telegram.errors import ControlError
from devstack.standins.telegram.records import RateLimit
from devstack.standins.telegram.state import World
from devstack.standins.telegram.webhooks import webhook_info

log = structlog.get_logger("devstack.standins.telegram.control")

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlApi:
    """Routes for driving and inspecting the simulated Telegram; the bot-account routes live here."""

    def __init__(self, world: World) -> None:
        """Bind to the world shared with the Bot API routes."""
        self.world = world

    def register(self, app: web.Application) -> None:
        """Add the control routes, all wrapped so ``ControlError`` becomes a JSON error response."""
        routes: list[tuple[str, str, Route]] = [
            ("GET", "/control/health", self.health),
            ("GET", "/control/bots", self.list_bots),
            ("POST", "/control/bots", self.create_bot),
            ("GET", "/control/bots/{ref}", self.bot_info),
            ("GET", "/control/bots/{ref}/wait-polling", self.wait_polling),
            ("POST", "/control/bots/revoke", self.revoke_bot),
            ("POST", "/control/bots/rotate-token", self.rotate_token),
            ("POST", "/control/rate-limit", self.set_rate_limit),
            *ChatControl(self.world).routes(),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, self._wrap(handler))

    @staticmethod
    def _wrap(handler: Route) -> Route:
        """Turn ``ControlError`` raised by a route into its JSON error response."""

        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ControlError as exc:
                return error_response(exc.status, exc.message)

        return wrapped

    async def health(self, request: web.Request) -> web.Response:
        """``GET /control/health``: liveness and a count of bots, for fixtures waiting on startup."""
        return web.json_response({"ok": True, "bots": len(self.world.bots_by_id)})

    async def list_bots(self, request: web.Request) -> web.Response:
        """``GET /control/bots``: every live bot with its id, username and token."""
        bots = [
            {
                "id": b.id,
                "username": b.username,
                "first_name": b.first_name,
                "token": b.token,
                "can_manage_bots": b.can_manage_bots,
                "managed_by": b.managed_by,
                "owner_id": b.owner_id,
            }
            for b in self.world.bots_by_id.values()
        ]
        return web.json_response({"bots": bots})

    async def create_bot(self, request: web.Request) -> web.Response:
        """``POST /control/bots``: register a bot (idempotent by username) and return its token.

        ``can_manage_bots: true`` plays enabling bot management in BotFather, which a bot needs before
        its ``request_managed_bot`` button can create bots; given for an existing bot, it updates it.
        """
        body = await read_body(request)
        can_manage = body.get("can_manage_bots")
        bot, created = self.world.create_bot(
            username=body.get("username"),
            token=body.get("token"),
            first_name=body.get("first_name"),
            can_manage_bots=None if can_manage is None else as_bool(can_manage),
        )
        if created:
            log.info("bot created", bot_id=bot.id, username=bot.username, can_manage_bots=bot.can_manage_bots)
        return web.json_response(
            {
                "id": bot.id,
                "token": bot.token,
                "username": bot.username,
                "first_name": bot.first_name,
                "can_manage_bots": bot.can_manage_bots,
                "created": created,
            },
            status=201 if created else 200,
        )

    async def bot_info(self, request: web.Request) -> web.Response:
        """``GET /control/bots/{ref}``: delivery state, e.g. whether an instance is long-polling now."""
        bot = self.world.resolve_bot(request.match_info["ref"])
        return web.json_response(
            {
                "id": bot.id,
                "username": bot.username,
                "first_name": bot.first_name,
                "can_manage_bots": bot.can_manage_bots,
                "managed_by": bot.managed_by,
                "owner_id": bot.owner_id,
                "webhook": webhook_info(bot),
                "pending_update_count": len(bot.pending),
                "polling": bot.active_polls > 0,
                "last_poll_at": bot.last_poll_at,
                "poll_conflicts": bot.poll_conflicts,
                "chats": sorted(bot.chats),
                "commands": [
                    {"scope": scope, "language_code": lang, "commands": cmds}
                    for (scope, lang), cmds in bot.commands.items()
                ],
            }
        )

    async def wait_polling(self, request: web.Request) -> web.Response:
        """``GET /control/bots/{ref}/wait-polling?timeout=s``: block until an instance long-polls the bot.

        Lets a test know a bot process is connected before acting as a user, without sleeping; answers
        408 if no getUpdates request is in flight within ``timeout`` seconds (default 10).
        """
        timeout = wait_seconds(request.query.get("timeout"))

        def polling() -> web.Response | None:
            bot = self.world.resolve_bot(request.match_info["ref"])
            return web.json_response({"polling": True}) if bot.active_polls > 0 else None

        return await wait_until(self.world, timeout, polling, "no getUpdates request arrived before the timeout")

    async def revoke_bot(self, request: web.Request) -> web.Response:
        """``POST /control/bots/revoke``: delete a bot; its token gets 401 from then on."""
        bot = self.world.resolve_bot((await read_body(request)).get("bot"))
        self.world.revoke_bot(bot)
        log.info("bot revoked", bot_id=bot.id, username=bot.username)
        return web.json_response({"ok": True})

    async def rotate_token(self, request: web.Request) -> web.Response:
        """``POST /control/bots/rotate-token``: new token for the same bot; the old one gets 401."""
        bot = self.world.resolve_bot((await read_body(request)).get("bot"))
        token = self.world.rotate_token(bot)
        log.info("token rotated", bot_id=bot.id, username=bot.username)
        return web.json_response({"id": bot.id, "token": token, "username": bot.username})

    async def set_rate_limit(self, request: web.Request) -> web.Response:
        """``POST /control/rate-limit``: per-chat send limit for one bot, or the default for all.

        Body: ``{"bot": ref|null, "limit": n|null, "window": seconds}``; a null limit turns it off.
        """
        body = await read_body(request)
        limit_value = body.get("limit")
        limit = None
        if limit_value is not None:
            window = float(body.get("window", 1.0))
            limit = RateLimit(limit=as_int(limit_value, "limit"), window=window)
            if limit.limit < 1 or window <= 0:
                raise ControlError(400, "limit must be >= 1 and window > 0")
        if body.get("bot") is None:
            self.world.default_rate_limit = limit
        else:
            self.world.resolve_bot(body["bot"]).rate_limit = limit
        return web.json_response({"ok": True})
