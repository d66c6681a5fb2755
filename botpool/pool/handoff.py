"""The per-allocation handoff: a wrapping token reaches only the Nomad allocation its claim names.

A claim in Consul says which tenant goes to which slot (and that slot's Nomad
allocation id), but never carries the wrapping token: everything under
``botpool/`` in Consul is readable by every slot. The activator, once its claim
has won, writes the token to Vault at ``<mount>/data/handoff/<alloc_id>/<attempt>``;
the slot reads it with its own Vault token, which Nomad derives from the
allocation's workload identity and whose templated policy
(``vault-policies/botpool-slot.hcl``) opens only ``handoff/<its own alloc id>/*``.
Another slot, or anyone else holding a slot's credentials, is refused by Vault
(docs/handoff.md).

The handoff is written after the claim, never before: a token written for a
claim that then lost its race would sit in a slot's path that was never
assigned the tenant. So the slot may look before the write lands and waits a
moment for it (Vault has no blocking reads). The slot deletes the handoff once
read; the wrapping token stays single-use either way.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import hvac
import hvac.exceptions
import structlog

from botpool.errors import HandoffRefused, HandoffUnavailable

log = structlog.get_logger("botpool.handoff")

#: The folder under the KV mount holding handoffs (one sub-folder per allocation).
PREFIX = "handoff"
#: The placeholder in vault-policies/botpool-slot.hcl that names the JWT auth mount's accessor.
ACCESSOR_PLACEHOLDER = "JWT_NOMAD_ACCESSOR"
#: How long a slot waits for a handoff its claim promises (the activator writes it right after the claim).
ARRIVAL_WAIT_S = 10.0

_ALLOC_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_ATTEMPT = re.compile(r"^[0-9a-f]{32}$")
_ACCESSOR = re.compile(r"^auth_jwt_[0-9a-f]+$")


class HandoffMissing(HandoffRefused):
    """No handoff arrived for a claim: the activator failed between its claim and its write, or the claim was forged.

    Not tampering with a token (nothing was received), so the slot fails the
    attempt for a retry elsewhere without a ``handoff_refused`` alert.
    """


@dataclass(frozen=True)
class Handoff:
    """What the activator leaves for one slot; the wrapping token is a secret and not printed."""

    tenant_id: str
    attempt: str
    alloc_id: str
    wrap_token: str

    def __repr__(self) -> str:
        return f"Handoff(tenant_id={self.tenant_id!r}, attempt={self.attempt!r}, alloc_id={self.alloc_id!r})"


def secret_path(alloc_id: str, attempt: str) -> str:
    """The KV path of one handoff; both parts are checked, since the allocation id comes from a Consul record.

    A value such as ``../tenants/x`` must never become a Vault path, so anything
    but a Nomad allocation id (a UUID) and a claim attempt (32 hex digits) is refused.
    """
    if not _ALLOC_ID.match(alloc_id):
        raise HandoffRefused("the claim's allocation id is not a Nomad allocation id")
    if not _ATTEMPT.match(attempt):
        raise HandoffRefused("the claim's attempt is not a claim attempt id")
    return f"{PREFIX}/{alloc_id}/{attempt}"


def render_slot_policy(template: str, accessor: str) -> str:
    """The slot policy with the JWT auth mount's accessor filled in (Vault only knows it once the mount exists)."""
    if not _ACCESSOR.match(accessor):
        raise ValueError(f"{accessor!r} is not a JWT auth mount accessor (auth_jwt_...)")
    return template.replace(ACCESSOR_PLACEHOLDER, accessor)


def deliver(client: hvac.Client, mount: str, handoff: Handoff) -> None:
    """Write a handoff for the allocation it names (the activator, after its claim won).

    The activator's policy allows only ``create`` under ``handoff/``: it cannot
    read a handoff back or overwrite one, and each attempt has its own path.
    """
    path = secret_path(handoff.alloc_id, handoff.attempt)
    client.adapter.post(
        f"/v1/{mount}/data/{path}",
        json={"data": {"tenant_id": handoff.tenant_id, "attempt": handoff.attempt, "alloc_id": handoff.alloc_id,
                       "wrap_token": handoff.wrap_token}},
    )


def slot_token(token_file: Path) -> str:
    """The slot's own Vault token, read afresh each time from the file Nomad keeps renewed.

    Read per use rather than once at start: Nomad re-derives the token if it
    cannot renew it, and the file always holds the current one.
    """
    try:
        token = token_file.read_text().strip()
    except OSError as exc:
        raise HandoffUnavailable(f"the slot has no Vault token at {token_file} ({type(exc).__name__})") from None
    if not token:
        raise HandoffUnavailable(f"the slot's Vault token file {token_file} is empty")
    return token


def take(
    addr: str, token_file: Path, mount: str, *, alloc_id: str, tenant_id: str, attempt: str,
    wait_s: float = ARRIVAL_WAIT_S,
) -> str:
    """Read this allocation's handoff for one claim, check it names that claim, delete it; return the wrapping token.

    Waits up to ``wait_s`` for the handoff to arrive (``HandoffMissing`` if it
    never does). Raises ``HandoffRefused`` when Vault refuses the read (the
    token is not this allocation's) or the handoff names another tenant,
    attempt or allocation. Blocking (hvac): async callers run it in a thread.
    """
    path = secret_path(alloc_id, attempt)
    deadline = time.monotonic() + wait_s
    pause = 0.01
    while True:
        client = hvac.Client(url=addr.rstrip("/"), token=slot_token(token_file), timeout=10)
        try:
            data = _read(client, mount, path)
            if data is not None:
                _consume(client, mount, path)
                break
        finally:
            client.adapter.close()
        if time.monotonic() >= deadline:
            raise HandoffMissing(f"no handoff arrived for attempt {attempt} within {wait_s:.0f} s")
        time.sleep(pause)
        pause = min(pause * 2, 0.25)
    found = Handoff(
        tenant_id=str(data.get("tenant_id")), attempt=str(data.get("attempt")), alloc_id=str(data.get("alloc_id")),
        wrap_token=str(data.get("wrap_token") or ""),
    )
    if (found.tenant_id, found.attempt, found.alloc_id) != (tenant_id, attempt, alloc_id):
        raise HandoffRefused(
            f"the handoff names tenant {found.tenant_id!r}, attempt {found.attempt!r}, allocation {found.alloc_id!r}; "
            f"the claim names {tenant_id!r}, {attempt!r}, {alloc_id!r}"
        )
    if not found.wrap_token:
        raise HandoffRefused("the handoff holds no wrapping token")
    return found.wrap_token


def _read(client: hvac.Client, mount: str, path: str) -> dict[str, object] | None:
    """The handoff's data, or None while it is not there yet."""
    try:
        response = client.adapter.get(f"/v1/{mount}/data/{path}")
    except hvac.exceptions.InvalidPath:
        return None
    except hvac.exceptions.Forbidden:
        # An expired or revoked slot token, or a policy not applied yet: a fault of ours, not evidence of theft.
        raise HandoffUnavailable("Vault refused this slot's token the read of its own handoff") from None
    except (hvac.exceptions.VaultError, OSError) as exc:  # requests' errors (hvac's transport) are OSErrors
        raise HandoffUnavailable(f"the handoff could not be read ({type(exc).__name__})") from None
    data = (response.get("data") or {}).get("data") if isinstance(response, dict) else None
    return data if isinstance(data, dict) else None


def _consume(client: hvac.Client, mount: str, path: str) -> None:
    """Delete every version of a handoff once read, so nothing is left behind.

    A failed delete is logged, not raised: the wrapping token is unwrapped next,
    after which what is left in this allocation's own path is worthless.
    """
    try:
        client.adapter.delete(f"/v1/{mount}/metadata/{path}")
    except (hvac.exceptions.VaultError, OSError) as exc:
        log.warning("handoff not deleted after reading", path=path, error=type(exc).__name__)
