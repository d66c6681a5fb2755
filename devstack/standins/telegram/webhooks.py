"""Webhooks: a bot's push-delivery settings and the sender that POSTs its updates to the bot's URL.

Setting a webhook switches a bot from ``getUpdates`` to push delivery. As on Telegram, updates go out
one at a time and in order, each with the secret header; one not answered 2xx is retried with capped
backoff and reported by ``getWebhookInfo``; and a method in the webhook's answer (aiogram sends it as
a multipart form) is executed as the bot's own call.
"""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import structlog

from devstack.standins.telegram.api_params import Params
from devstack.standins.telegram.errors import BotApiError, JsonDict
from devstack.standins.telegram.records import BotRecord
from devstack.standins.telegram.updates import confirm_one

log = structlog.get_logger("devstack.standins.telegram.webhooks")

#: Runs one Bot API method for a bot (``BotApi.call``), used for the method a webhook answers with.
Execute = Callable[[BotRecord, str, str, Params], Awaitable[tuple[Any, str | None]]]


def set_webhook(
    bot: BotRecord,
    *,
    url: str,
    secret: str | None,
    max_connections: int,
    allowed_updates: list[str] | None,
    drop_pending: bool,
) -> None:
    """Switch the bot to webhook delivery (or back to polling when ``url`` is empty)."""
    bot.webhook_url = url
    bot.webhook_secret = secret if url else None
    bot.webhook_max_connections = max_connections
    bot.webhook_last_error_date = None
    bot.webhook_last_error_message = None
    if allowed_updates is not None:
        bot.allowed_updates = allowed_updates
    if drop_pending:
        bot.pending.clear()
    bot.webhook_generation += 1
    bot.updates.notify()


def webhook_info(bot: BotRecord) -> JsonDict:
    """Return ``getWebhookInfo``'s ``WebhookInfo`` for the bot."""
    info: JsonDict = {
        "url": bot.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(bot.pending),
    }
    if bot.webhook_url:
        info["max_connections"] = bot.webhook_max_connections
        info["ip_address"] = "127.0.0.1"
    if bot.webhook_last_error_date is not None:
        info["last_error_date"] = bot.webhook_last_error_date
        info["last_error_message"] = bot.webhook_last_error_message
    if bot.allowed_updates:
        info["allowed_updates"] = bot.allowed_updates
    return info


def form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """Read the fields of a ``multipart/form-data`` body with the standard library's MIME parser.

    The body arrives whole (the HTTP client has read it), so a streaming multipart reader would add
    nothing; the MIME parser already knows boundaries, part headers and charsets.
    """
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    if not message.is_multipart():
        return fields
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        content = part.get_content()
        fields[str(name)] = content.decode() if isinstance(content, bytes) else str(content)
    return fields


class WebhookDelivery:
    """One sender task per bot with a webhook, restarted whenever the bot's webhook settings change."""

    def __init__(
        self,
        clock: Callable[[], float],
        execute: Execute,
        *,
        timeout: float,
        retry_initial: float,
        retry_max: float,
    ) -> None:
        """Keep the delivery bounds; the HTTP client is opened by ``start`` in the serving event loop."""
        self.clock = clock
        self.execute = execute
        self.timeout = timeout
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self._http: httpx.AsyncClient | None = None
        self._tasks: dict[int, asyncio.Task[None]] = {}

    async def start(self) -> None:
        """Open the HTTP client (proxies from the environment ignored: receivers are local)."""
        self._http = httpx.AsyncClient(trust_env=False)

    async def stop(self) -> None:
        """Stop every sender and close the HTTP client."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    def restart(self, bot: BotRecord) -> None:
        """Replace the bot's sender after its webhook settings changed."""
        old = self._tasks.pop(bot.id, None)
        if old is not None:
            old.cancel()
        if bot.webhook_url:
            self._tasks[bot.id] = asyncio.create_task(
                self._deliver(bot, bot.webhook_generation), name=f"webhook-{bot.id}"
            )

    async def _deliver(self, bot: BotRecord, generation: int) -> None:
        """POST pending updates one at a time, in order, retrying failures with capped backoff."""
        backoff = self.retry_initial
        while bot.webhook_generation == generation and not bot.revoked:
            if not bot.pending:
                await bot.updates.wait(60.0)
                continue
            update = bot.pending[0]
            error = await self._post_update(bot, update)
            if bot.webhook_generation != generation:
                return
            if error is None:
                confirm_one(bot, update["update_id"])
                backoff = self.retry_initial
                continue
            bot.webhook_last_error_date = int(self.clock())
            bot.webhook_last_error_message = error
            log.info("webhook delivery failed", bot_id=bot.id, error=error, retry_in_s=round(backoff, 2))
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.retry_max)

    async def _post_update(self, bot: BotRecord, update: JsonDict) -> str | None:
        """Deliver one update; return None on a 2xx answer, otherwise Telegram's error wording."""
        assert self._http is not None
        headers = {"Content-Type": "application/json"}
        if bot.webhook_secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = bot.webhook_secret
        try:
            response = await self._http.post(
                bot.webhook_url, content=json.dumps(update), headers=headers, timeout=self.timeout
            )
        except (TimeoutError, httpx.TimeoutException):
            return "Read timeout expired"
        except httpx.HTTPError as exc:
            return f"Connection failed: {type(exc).__name__}"
        if not 200 <= response.status_code < 300:
            return f"Wrong response from the webhook: {response.status_code} {response.reason_phrase}"
        await self._run_webhook_reply(bot, response)
        return None

    async def _run_webhook_reply(self, bot: BotRecord, response: httpx.Response) -> None:
        """Execute a method the webhook answered with, as Telegram allows (aiogram sends multipart)."""
        fields: dict[str, Any] = {}
        content_type = response.headers.get("content-type", "")
        mime = content_type.split(";", 1)[0].strip().lower()
        try:
            if mime == "multipart/form-data":
                fields = dict(form_fields(content_type, response.content))
            elif mime == "application/json":
                body = response.json()
                if isinstance(body, dict):
                    fields = body
        except ValueError as exc:
            log.info("unreadable webhook reply", bot_id=bot.id, error=type(exc).__name__)
            return
        method = fields.pop("method", None)
        if not method:
            return
        try:
            await self.execute(bot, bot.token, str(method), Params(fields))
        except BotApiError as exc:
            log.info("webhook reply method failed", method=str(method), bot_id=bot.id, error=exc.description)
