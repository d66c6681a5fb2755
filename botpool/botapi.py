"""The Bot API session every bot of ours uses: aiogram's aiohttp session, each request body sent as JSON.

aiogram sends every method as a form: each parameter goes through
``prepare_value``, a nested one (a keyboard, entities) is JSON-encoded on its
own, and the whole form is then URL-encoded, field by field. On the booking
benchmark that encoding was about a fifth of the bot's CPU per Bot API call
(docs/performance.md). The Bot API takes the same parameters as one
``application/json`` body ("Making requests" in its documentation), so this
session encodes the prepared parameters once. Anything with a file to upload
still goes aiogram's own way, as multipart.

A subclass of aiogram's session rather than a new one: the connection pool,
timeouts, error types, request middlewares and response parsing stay
aiogram's; only the body changes.
"""

from __future__ import annotations

from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientError, ClientTimeout

#: The body's content type: the one the Bot API documents besides forms and query strings.
JSON_HEADERS = {"Content-Type": "application/json"}


class JsonSession(AiohttpSession):
    """aiogram's aiohttp session whose requests carry their parameters as one JSON body."""

    def json_body(self, bot: Bot, method: TelegramMethod[Any]) -> tuple[dict[str, Any], bool]:
        """The method's parameters as aiogram would send them, and whether any is a file to upload.

        Empty scalars are left out exactly as aiogram's form leaves them out, so both ways send the
        same parameters; only the encoding differs.
        """
        files: dict[str, Any] = {}
        body: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
            if prepared is None or (not isinstance(prepared, dict | list) and not prepared):
                continue
            body[key] = prepared
        return body, bool(files)

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        """Send ``method`` as JSON (as a multipart form when it uploads a file) and parse the answer."""
        body, uploads = self.json_body(bot, method)
        if uploads:
            return await super().make_request(bot, method, timeout)
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=self.json_dumps(body),
                headers=JSON_HEADERS,
                timeout=ClientTimeout(total=self.timeout if timeout is None else timeout),
            ) as resp:
                raw_result = await resp.text()
        except TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        response = self.check_response(bot=bot, method=method, status_code=resp.status, content=raw_result)
        return cast(TelegramType, response.result)


def session(base_url: str | None = None) -> JsonSession:
    """A session for the Bot API at ``base_url`` (the stand-in, a local Bot API server), or Telegram's own."""
    if base_url is None:
        return JsonSession()
    return JsonSession(api=TelegramAPIServer.from_base(base_url.rstrip("/")))

