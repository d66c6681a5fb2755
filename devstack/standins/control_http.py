"""What the stand-ins' control clients share: their HTTP client, and how a refused request is reported.

Both control APIs (Telegram's, YooKassa's) answer JSON and refuse with ``{"error": ...}`` and an HTTP
status, so both clients turn a refusal into the same ``ControlApiError`` and open the same kind of
httpx client: proxies from the environment ignored (the stand-ins are on loopback) and every pooled
connection kept alive, because tests and benchmarks make many small calls in a row.
"""

from __future__ import annotations

from typing import Any

import httpx

#: aiohttp's default pool size, which the clients had before moving to httpx; all of it kept alive.
POOL_SIZE = 100


class ControlApiError(Exception):
    """The control API refused a request; ``status`` and ``message`` say why."""

    def __init__(self, status: int, message: str) -> None:
        """Keep the HTTP status and the server's explanation."""
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def control_http_client(base_url: str = "", *, timeout: float = 10.0) -> httpx.AsyncClient:
    """Open the httpx client a control client speaks through; ``timeout`` is the default per request."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        trust_env=False,
        limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE),
    )


def control_json(response: httpx.Response) -> Any:
    """Return a control answer's JSON body, or raise ``ControlApiError`` for a refused request."""
    if response.status_code >= 400:
        try:
            body = response.json()
        except ValueError:
            raise ControlApiError(response.status_code, response.text) from None
        message = body.get("error", body) if isinstance(body, dict) else body
        raise ControlApiError(response.status_code, str(message))
    return response.json()
