"""Who may do what in the local stack's Vault: no root token after bootstrap, one token per role.

At initialisation Vault hands out a root token. The stack uses it once, to
write ``vault-policies/botpool-stack-admin.hcl`` and issue the stack tooling's
own periodic token (the "admin" token: configuration only, no secret), then
revokes it. A stack initialised before this rule, with the root token kept in
its state, is migrated the same way on its next ``up``. Every later start
re-applies the configuration with the admin token: the role policies, the
token roles (``vault-policies/botpool-*-role.json``) and one periodic orphan
token per role (operator, reconciler, sales bot), re-issued only when missing,
expired or holding other policies, and renewed otherwise.

Only when the admin token is gone (expired while the stack was down longer
than its period) or its policy file changed does the stack need root again:
it generates a short-lived root token with the unseal key
(``sys/generate-root``), uses it, and revokes it at once. All tokens live in
the stack's 0600 state, travel over loopback HTTP only, and are never logged.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator
from typing import Any

import httpx

from botpool.errors import DependencyUnavailable
from devstack.binaries import REPO_ROOT
from devstack.state import StackState

POLICIES = REPO_ROOT / "vault-policies"
#: The stack tooling's own policy and where its token is kept.
ADMIN_POLICY = "botpool-stack-admin"
ADMIN_KEY = "vault_admin_token"
#: Where an older stack (and a fresh initialisation, for the seconds until its first configuration) keeps root.
ROOT_KEY = "vault_root_token"
#: The role policies the stack tooling keeps equal to their files (the slot's is templated, in services.Nomad).
ROLE_POLICIES = ("botpool-activator",)
#: The control plane's roles: the role's name in the state key, its token role in Vault.
ROLES = {"operator": "botpool-operator", "reconciler": "botpool-reconciler", "sales-bot": "botpool-sales-bot"}
#: The admin token's period, as the role tokens' (their role files): Vault caps a period at its maximum lease TTL
#: (768 h by default), and a value below it tells a periodic token from a default one in a lookup.
ADMIN_PERIOD = "720h"


def token_key(role: str) -> str:
    """The state key of a role's token (``vault_token_sales_bot``)."""
    if role not in ROLES:
        raise ValueError(f"no Vault role {role!r}; known: {', '.join(ROLES)}")
    return "vault_token_" + role.replace("-", "_")


def role_token(state: StackState, role: str) -> str:
    """The role's current token, or "" before Vault was first configured (never a made-up value)."""
    return state.secrets.get(token_key(role), "")


def admin_headers(state: StackState) -> dict[str, str]:
    """The header that authenticates the stack tooling's own configuration requests."""
    token = state.secrets.get(ADMIN_KEY)
    if not token:
        raise DependencyUnavailable("Vault has not been configured by this stack yet (no stack-admin token)")
    return {"X-Vault-Token": token}


def ensure_admin(base: str, state: StackState) -> None:
    """Make sure the stack holds a valid admin token with the current policy, and that no root token remains."""
    root = state.secrets.get(ROOT_KEY)
    admin = state.secrets.get(ADMIN_KEY)
    policy = (POLICIES / f"{ADMIN_POLICY}.hcl").read_text()
    if admin is None or not _admin_current(base, admin, policy):
        with _root(base, state, root) as token:
            headers = {"X-Vault-Token": token}
            _ok(httpx.put(f"{base}/v1/sys/policies/acl/{ADMIN_POLICY}", headers=headers, json={"policy": policy},
                          timeout=10))
            created = _ok(httpx.post(
                f"{base}/v1/auth/token/create-orphan", headers=headers, timeout=10,
                json={"policies": [ADMIN_POLICY], "period": ADMIN_PERIOD, "renewable": True,
                      "display_name": "botpool-stack-admin"},
            ))
            state.secrets[ADMIN_KEY] = created["auth"]["client_token"]
            state.save()  # before the root token goes: the stack must never be left with neither
        if admin is not None:
            _revoke_self(base, admin)
    elif root is not None:
        _revoke_self(base, root)
    if state.secrets.pop(ROOT_KEY, None) is not None:
        state.save()


def apply_roles(base: str, state: StackState) -> None:
    """Keep the role policies and token roles equal to their files; give each role a valid token."""
    headers = admin_headers(state)
    for name in ROLE_POLICIES:
        policy = (POLICIES / f"{name}.hcl").read_text()
        _ok(httpx.put(f"{base}/v1/sys/policies/acl/{name}", headers=headers, json={"policy": policy}, timeout=10))
    for role, vault_role in ROLES.items():
        definition = json.loads((POLICIES / f"{vault_role}-role.json").read_text())
        _ok(httpx.post(f"{base}/v1/auth/token/roles/{vault_role}", headers=headers, json=definition, timeout=10))
        key = token_key(role)
        old = state.secrets.get(key)
        if old is not None and _holds(base, old, {*definition["allowed_policies"], "default"}):
            _ok(httpx.post(f"{base}/v1/auth/token/renew-self", headers={"X-Vault-Token": old}, json={}, timeout=10))
            continue
        created = _ok(httpx.post(f"{base}/v1/auth/token/create/{vault_role}", headers=headers, json={}, timeout=10))
        state.secrets[key] = created["auth"]["client_token"]
        state.save()
        if old is not None:
            _revoke_self(base, old)


def generate_root(base: str, unseal_key: str) -> str:
    """A new root token from the unseal key (what key holders do with ``vault operator generate-root``).

    The caller must revoke it as soon as it is done: see ``_root``.
    """
    httpx.delete(f"{base}/v1/sys/generate-root/attempt", timeout=10)  # an attempt left by a crash blocks a new one
    attempt = _ok(httpx.put(f"{base}/v1/sys/generate-root/attempt", json={}, timeout=10))
    done = _ok(httpx.put(f"{base}/v1/sys/generate-root/update", json={"key": unseal_key, "nonce": attempt["nonce"]},
                         timeout=10))
    if not done.get("complete"):
        raise DependencyUnavailable("Vault did not complete root generation with the stack's unseal key")
    encoded: str = done["encoded_token"]
    raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4))
    return bytes(a ^ b for a, b in zip(raw, attempt["otp"].encode(), strict=True)).decode()


@contextlib.contextmanager
def _root(base: str, state: StackState, token: str | None) -> Iterator[str]:
    """A root token for one configuration step, revoked when it ends: the one given, or a generated one."""
    if token is None or not _valid(base, token):
        key = state.secrets.get("vault_unseal_key")
        if key is None:
            raise DependencyUnavailable("this stack has no Vault unseal key; `botpool reset` starts afresh")
        token = generate_root(base, key)
    try:
        yield token
    finally:
        _revoke_self(base, token)


def _admin_current(base: str, admin: str, policy: str) -> bool:
    """True if the admin token is valid, renewed, and its policy in Vault is the file's text."""
    headers = {"X-Vault-Token": admin}
    resp = httpx.get(f"{base}/v1/sys/policies/acl/{ADMIN_POLICY}", headers=headers, timeout=10)
    if resp.status_code == 403:
        return False  # expired, revoked, or never valid here
    if _ok(resp)["data"]["policy"] != policy:
        return False
    _ok(httpx.post(f"{base}/v1/auth/token/renew-self", headers=headers, json={}, timeout=10))
    return True


def _holds(base: str, token: str, policies: set[str]) -> bool:
    """True if ``token`` is valid and carries exactly ``policies``."""
    resp = httpx.get(f"{base}/v1/auth/token/lookup-self", headers={"X-Vault-Token": token}, timeout=10)
    if resp.status_code == 403:
        return False
    return set(_ok(resp)["data"]["policies"]) == policies


def _valid(base: str, token: str) -> bool:
    resp = httpx.get(f"{base}/v1/auth/token/lookup-self", headers={"X-Vault-Token": token}, timeout=10)
    if resp.status_code == 403:
        return False
    _ok(resp)
    return True


def _revoke_self(base: str, token: str) -> None:
    """Revoke ``token`` with itself; one that is already invalid (403) is as good as revoked."""
    resp = httpx.post(f"{base}/v1/auth/token/revoke-self", headers={"X-Vault-Token": token}, json={}, timeout=10)
    if resp.status_code != 403:
        resp.raise_for_status()


def _ok(resp: httpx.Response) -> dict[str, Any]:
    """The JSON body of a successful response (empty for 204); raises on an error status."""
    resp.raise_for_status()
    if resp.status_code == 204 or not resp.content:
        return {}
    body: dict[str, Any] = resp.json()
    return body
