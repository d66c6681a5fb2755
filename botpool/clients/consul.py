"""Consul access through py-consul's asyncio client, plus the calls it lacks or gets wrong.

py-consul cannot create a session bound to *service* checks (``ServiceChecks``);
its ``catalog.register`` sends node meta as a query parameter, which Consul's
register endpoint ignores; and with a token its ``catalog.deregister`` puts a
``WriteRequest`` field in the body, which Consul rejects (400).
``create_session``, ``register_node`` and ``deregister_node`` send those
requests through the client's own HTTP layer instead.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlparse

import aiohttp
import consul.aio
from consul.callback import CB
from consul.exceptions import ClientError, ConsulException

from botpool.settings import ConsulSettings


def is_transient(exc: BaseException) -> bool:
    """True for Consul failures that pass on their own, so a watcher should back off and retry, not crash.

    That is a dropped or refused connection, a timeout, a 5xx, and 429: the
    agent's per-client connection limit (``http_max_conns_per_client``), which a
    node full of slots, each holding blocking queries, can reach while a batch
    starts. Permission and request errors are not transient.
    """
    if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, ConnectionError, consul.Timeout)):
        return True
    if isinstance(exc, ClientError):
        return str(exc).startswith("429")
    return type(exc) is ConsulException and str(exc)[:1] == "5"


def connect(settings: ConsulSettings) -> consul.aio.Consul:
    """Return an asyncio Consul client for the configured agent."""
    url = urlparse(str(settings.http_addr))
    token = settings.token.get_secret_value() if settings.token else None
    return consul.aio.Consul(
        host=url.hostname or "127.0.0.1",
        port=url.port or (443 if url.scheme == "https" else 80),
        scheme=url.scheme,
        token=token,
    )


async def create_session(
    client: consul.aio.Consul,
    *,
    name: str,
    ttl_s: int | None = None,
    behavior: str = "delete",
    service_checks: list[str] | None = None,
    node_checks: list[str] | None = None,
    lock_delay_s: int = 0,
) -> str:
    """Create a session and return its id.

    ``behavior="delete"`` makes every key the session holds ephemeral: the keys go
    when the session is invalidated (TTL missed, a bound check critical, or destroyed).
    ``lock_delay_s=0`` lets a successor acquire at once, which the pool needs to
    re-activate a dead slot's tenant quickly.
    """
    body: dict[str, Any] = {"Name": name, "Behavior": behavior, "LockDelay": f"{lock_delay_s}s"}
    if ttl_s is not None:
        body["TTL"] = f"{ttl_s}s"
    if service_checks:
        body["ServiceChecks"] = [{"ID": check_id} for check_id in service_checks]
    if node_checks is not None:
        body["NodeChecks"] = node_checks
    result: dict[str, str] = await client.http.put(
        CB.json(), "/v1/session/create", data=json.dumps(body), headers=client.prepare_headers(None)
    )
    return result["ID"]


async def register_node(client: consul.aio.Consul, node: str, address: str, meta: dict[str, str]) -> None:
    """Register (or replace) an agentless catalog node with ``meta`` as its node meta; raises if Consul refuses.

    The whole meta is replaced on every call, so a field dropped from ``meta`` is dropped from the node.
    """
    body = {"Node": node, "Address": address, "NodeMeta": meta}
    ok = await client.http.put(
        CB.boolean(), "/v1/catalog/register", data=json.dumps(body), headers=client.prepare_headers(None)
    )
    if not ok:
        raise ConsulException(f"Consul did not register node {node}")


async def deregister_node(client: consul.aio.Consul, node: str) -> bool:
    """Remove an agentless catalog node and everything on it; True if Consul did (also when it was gone already)."""
    ok: bool = await client.http.put(
        CB.boolean(), "/v1/catalog/deregister", data=json.dumps({"Node": node}), headers=client.prepare_headers(None)
    )
    return ok
