"""Vault access through hvac, and the response-wrapping handoff of tenant bot tokens.

The activator reads a tenant's secret *wrapped* (``X-Vault-Wrap-TTL: 300``), so
only a single-use wrapping token travels through Consul. The receiver looks the
token up, insists that its creation path is exactly the tenant's KV path (a
re-wrap via ``sys/wrapping/wrap`` or a ``cubbyhole/`` path means someone
unwrapped it first), then unwraps with that token as its only credential.
hvac is synchronous; async callers run these in a thread. The lookup goes
through an hvac client that holds no token at all, so it carries no Vault
credential; hvac talks through requests, whose errors are ``OSError``s. (Not
httpx: a waiting pool slot already has hvac and requests loaded, and another
HTTP library would add ~5 MB to each of up to a hundred slots.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import hvac
import hvac.exceptions

from botpool.errors import HandoffRefused, HandoffUnavailable
from botpool.settings import VaultSettings

WRAP_TTL_S = 300
#: The longest a long-running holder waits between renewals of its own token (a role token's period is 720 h).
RENEW_EVERY_S = 3600.0


@dataclass(frozen=True)
class Wrapped:
    """A wrapping token and what Vault says about it; the token is a secret and not printed."""

    token: str
    creation_path: str
    ttl_s: int

    def __repr__(self) -> str:
        return f"Wrapped(creation_path={self.creation_path!r}, ttl_s={self.ttl_s})"


def connect(settings: VaultSettings) -> hvac.Client:
    """Return an authenticated hvac client for the configured Vault."""
    token = settings.token.get_secret_value() if settings.token else None
    return hvac.Client(url=str(settings.addr).rstrip("/"), token=token, timeout=10)


def connect_url(addr: str, token: str) -> hvac.Client:
    """Return an hvac client for an address and token (tests, tools)."""
    return hvac.Client(url=addr.rstrip("/"), token=token, timeout=10)


def renew_self(client: hvac.Client) -> float | None:
    """Renew the client's own token; return the seconds until it should be renewed again, or None if never.

    Every control-plane role token is periodic: it lives as long as its holder
    renews it within the period, and ends by itself once nobody does (a leaked
    copy of a stopped service's token then expires). A token that cannot be
    renewed, or never expires, needs nothing.
    """
    info = client.auth.token.lookup_self()["data"]
    if not info.get("renewable") or not info.get("ttl"):
        return None
    lease = int(client.auth.token.renew_self()["auth"]["lease_duration"])
    return min(RENEW_EVERY_S, lease / 2)


def kv_data_path(mount: str, secret_path: str) -> str:
    """The API path a KV v2 read goes to, which is also the wrapped token's creation path."""
    return f"{mount}/data/{secret_path}"


def write_kv(client: hvac.Client, mount: str, secret_path: str, data: dict[str, str]) -> None:
    """Write a KV v2 secret.

    The activator's policy sets ``min_wrapping_ttl`` on tenant paths so that no
    read can return a bot token in the clear; Vault applies that to writes too,
    so the write asks for a wrapped response (it only wraps version metadata,
    which is discarded).
    """
    client.adapter.post(f"/v1/{kv_data_path(mount, secret_path)}", json={"data": data}, wrap_ttl="60s")


def delete_kv(client: hvac.Client, mount: str, secret_path: str) -> None:
    """Delete a KV v2 secret with every version and its metadata (a deleted tenant leaves nothing behind).

    Vault answers a delete of a path that does not exist like any other, so this is idempotent.
    """
    client.secrets.kv.v2.delete_metadata_and_all_versions(path=secret_path, mount_point=mount)


def read_wrapped(client: hvac.Client, mount: str, secret_path: str, ttl_s: int = WRAP_TTL_S) -> Wrapped:
    """Read a KV v2 secret as a single-use wrapping token valid for ``ttl_s`` seconds."""
    response = client.adapter.get(f"/v1/{kv_data_path(mount, secret_path)}", wrap_ttl=f"{ttl_s}s")
    info = response["wrap_info"]
    return Wrapped(info["token"], info["creation_path"], int(info["ttl"]))


#: Vault's answers that mean it could not serve the request (sealed, erroring), as opposed to refusing the token.
_VAULT_UNAVAILABLE = (hvac.exceptions.InternalServerError, hvac.exceptions.VaultDown, hvac.exceptions.BadGateway)


def lookup(addr: str, wrapping_token: str) -> dict[str, Any]:
    """Look a wrapping token up without consuming it (needs no other credential)."""
    # token="" (not None, which makes hvac fall back to VAULT_TOKEN or ~/.vault-token): no credential at all.
    anonymous = hvac.Client(url=addr.rstrip("/"), token="", timeout=10)
    try:
        resp = anonymous.adapter.post("/v1/sys/wrapping/lookup", json={"token": wrapping_token})
    except _VAULT_UNAVAILABLE as exc:
        raise HandoffUnavailable(f"wrapping lookup failed: {type(exc).__name__}") from None
    except hvac.exceptions.VaultError as exc:
        raise HandoffRefused(f"wrapping token lookup refused ({type(exc).__name__})") from None
    except OSError as exc:
        raise HandoffUnavailable(f"wrapping lookup failed: {type(exc).__name__}") from None
    finally:
        anonymous.adapter.close()
    data: dict[str, Any] = resp["data"]
    return data


def unwrap_verified(addr: str, wrapping_token: str, expected_path: str) -> dict[str, Any]:
    """Verify the creation path is exactly ``expected_path``, then unwrap and return the KV data.

    Raises ``HandoffRefused`` on a lookup failure (expired or already used), a
    path mismatch (tampering), or a failed unwrap; the token is never used after
    a failed check.
    """
    info = lookup(addr, wrapping_token)
    if info.get("creation_path") != expected_path:
        raise HandoffRefused(f"wrapping token was created at {info.get('creation_path')!r}, expected {expected_path!r}")
    unwrapper = hvac.Client(url=addr.rstrip("/"), token=wrapping_token, timeout=10)
    try:
        result = unwrapper.sys.unwrap()
    except OSError as exc:  # requests' errors (hvac's transport) are OSErrors: Vault unreachable, not tampering
        raise HandoffUnavailable(f"unwrap failed: {type(exc).__name__}") from None
    except _VAULT_UNAVAILABLE as exc:
        raise HandoffUnavailable(f"unwrap failed: {type(exc).__name__}") from None
    except hvac.exceptions.VaultError as exc:
        raise HandoffRefused(f"unwrap failed: {type(exc).__name__}") from None
    data: dict[str, Any] = result["data"]["data"]
    return data
