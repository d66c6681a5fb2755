"""Bot API routes of the Telegram stand-in: ``/bot{token}/{method}`` over GET and POST.

Unmodified aiogram bots point their ``TelegramAPIServer`` here, so everything on the wire must match
the real Bot API: parameters may arrive in the query string, a JSON body, a urlencoded form or a
multipart form (``api_params``), results come back as ``{"ok": true, "result": ...}`` and failures
carry the real status codes and descriptions that aiogram maps onto its exception classes. This module
authenticates and dispatches; the methods live in groups (``api_messages``, ``api_updates``,
``api_account``) and webhook delivery in ``webhooks``.
"""

from __future__ import annotations

from typing import Any

import structlog
from aiohttp import web

from devstack.standins.telegram.api_account import AccountMethods
from devstack.standins.telegram.api_messages import MessageMethods
from devstack.standins.telegram.api_params import Described, Handler, Params
from devstack.standins.telegram.api_updates import UpdateMethods
from devstack.standins.telegram.errors import BotApiError, JsonDict, bad_request
from devstack.standins.telegram.records import BotRecord
from devstack.standins.telegram.state import World
from devstack.standins.telegram.webhooks import WebhookDelivery

log = structlog.get_logger("devstack.standins.telegram.botapi")


class BotApi:
    """Serves the Bot API methods for every bot in a ``World`` and delivers updates to webhooks."""

    def __init__(
        self,
        world: World,
        *,
        webhook_timeout: float = 10.0,
        webhook_retry_initial: float = 0.1,
        webhook_retry_max: float = 2.0,
    ) -> None:
        """Bind to the world; webhook retry delays are short so tests see redelivery within seconds."""
        self.world = world
        self.delivery = WebhookDelivery(
            world.clock,
            self.call,
            timeout=webhook_timeout,
            retry_initial=webhook_retry_initial,
            retry_max=webhook_retry_max,
        )
        groups: dict[str, Handler] = {
            **AccountMethods(world).handlers(),
            **UpdateMethods(world, self.delivery).handlers(),
            **MessageMethods(world).handlers(),
        }
        self._methods = {name.lower(): handler for name, handler in groups.items()}

    def register(self, app: web.Application) -> None:
        """Add the ``/bot{token}/{method}`` route and the webhook sender's lifecycle to ``app``."""
        app.router.add_route("GET", "/bot{token}/{method}", self.handle)
        app.router.add_route("POST", "/bot{token}/{method}", self.handle)
        app.on_startup.append(self._startup)
        app.on_shutdown.append(self._shutdown)
        app.on_cleanup.append(self._cleanup)

    async def _startup(self, app: web.Application) -> None:
        """Open the HTTP client used for webhook delivery."""
        await self.delivery.start()

    async def _shutdown(self, app: web.Application) -> None:
        """End held long polls with what they have (usually ``[]``) so shutdown does not wait them out."""
        self.world.close()

    async def _cleanup(self, app: web.Application) -> None:
        """Stop webhook delivery and close its HTTP client."""
        await self.delivery.stop()

    async def handle(self, request: web.Request) -> web.Response:
        """Authenticate the token, decode parameters, run the method and answer in Bot API format."""
        token = request.match_info["token"]
        method = request.match_info["method"]
        bot = self.world.bot_by_token(token)
        try:
            if bot is None:
                raise BotApiError(401, "Unauthorized")
            params = await self._read_params(request)
            result, description = await self.call(bot, token, method, params)
        except BotApiError as exc:
            return web.json_response(exc.to_json(), status=exc.error_code)
        except Exception:
            log.exception("internal error", method=method, bot_id=bot.id if bot else None)
            return web.json_response(
                {"ok": False, "error_code": 500, "description": "Internal Server Error"}, status=500
            )
        body: JsonDict = {"ok": True, "result": result}
        if description:
            body["description"] = description
        return web.json_response(body)

    @staticmethod
    async def _read_params(request: web.Request) -> Params:
        """Merge query-string parameters with a JSON, urlencoded or multipart body."""
        raw: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.body_exists:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise bad_request("can't parse JSON encoded request body") from None
                if not isinstance(body, dict):
                    raise bad_request("JSON object expected as request body")
                raw.update(body)
            elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                raw.update(form.items())
        return Params(raw)

    async def call(self, bot: BotRecord, token: str, method: str, params: Params) -> tuple[Any, str | None]:
        """Run one Bot API method; returns the result and an optional success description."""
        handler = self._methods.get(method.lower())
        if handler is None:
            raise BotApiError(404, "Not Found: method not found")
        result = await handler(bot, token, params)
        if isinstance(result, Described):
            return result.result, result.description
        return result, None
