"""Vault after ``up``: no root token anywhere, one token per role, and each role only what its policy says.

Issue 11, item 1: the reconciler, the sales bot and the operator CLI each hold
a periodic token of their own role (the activator policy), the stack tooling a
configuration-only token, and the root token the initialisation returned is
revoked. The tests' own inspector token (tests/fixtures/stack.py) writes the
secrets the roles then fail to read.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack import process, sales, services, vault_access
from devstack.programs import ReconcilerService
from devstack.stack import Stack
from tests.fixtures.stack import VaultHandle
from tests.security.test_stack_hygiene import stack_processes

ROLE_POLICIES = ["botpool-activator", "default"]


def lookup_self(addr: str, token: str) -> httpx.Response:
    """Vault's answer about ``token``, asked with the token itself (403 once it is revoked or expired)."""
    return httpx.get(f"{addr}/v1/auth/token/lookup-self", headers={"X-Vault-Token": token}, timeout=10)


@pytest.fixture
def generated_root(stack: Stack, vault: VaultHandle) -> Iterator[str]:
    """A root token made from the unseal key, as key holders would, for looking at every token; revoked after."""
    token = vault_access.generate_root(vault.addr, stack.state.secrets["vault_unseal_key"])
    try:
        yield token
    finally:
        httpx.post(f"{vault.addr}/v1/auth/token/revoke-self", headers={"X-Vault-Token": token}, timeout=10)


def every_token(addr: str, root: str) -> list[dict[str, Any]]:
    """What Vault says about each of its tokens (listing accessors needs root)."""
    headers = {"X-Vault-Token": root}
    listed = httpx.request("LIST", f"{addr}/v1/auth/token/accessors", headers=headers, timeout=10)
    listed.raise_for_status()
    tokens = []
    for accessor in listed.json()["data"]["keys"]:
        resp = httpx.post(f"{addr}/v1/auth/token/lookup-accessor", headers=headers, json={"accessor": accessor},
                          timeout=10)
        if resp.status_code == 200:
            tokens.append(resp.json()["data"])
    return tokens


def test_no_root_token_is_left_after_up(stack: Stack, vault: VaultHandle, generated_root: str) -> None:
    assert vault_access.ROOT_KEY not in stack.state.secrets
    assert vault_access.ROOT_KEY not in (stack.root / "stack.json").read_text()
    own = lookup_self(vault.addr, generated_root).json()["data"]["accessor"]
    roots = [t["accessor"] for t in every_token(vault.addr, generated_root) if "root" in t["policies"]]
    assert roots == [own], "the only root token is the one this test generated from the unseal key"


def test_a_stack_that_kept_its_root_token_is_migrated_on_the_next_up(stack: Stack, vault: VaultHandle) -> None:
    # What an older devstack left: the root token of the initialisation in the state file.
    old_root = vault_access.generate_root(vault.addr, stack.state.secrets["vault_unseal_key"])
    stack.state.secrets[vault_access.ROOT_KEY] = old_root
    stack.state.save()
    assert lookup_self(vault.addr, old_root).status_code == 200

    services.Vault().after_healthy(stack.state)  # what every `up` runs once Vault is unsealed

    assert lookup_self(vault.addr, old_root).status_code == 403, "revoked"
    assert vault_access.ROOT_KEY not in stack.state.secrets
    assert old_root not in (stack.root / "stack.json").read_text()


def test_a_lost_stack_admin_token_is_replaced_through_the_unseal_key_and_no_root_remains(
    stack: Stack, vault: VaultHandle, generated_root: str
) -> None:
    lost = stack.state.secrets[vault_access.ADMIN_KEY]
    httpx.post(f"{vault.addr}/v1/auth/token/revoke-self", headers={"X-Vault-Token": lost}, timeout=10)
    assert lookup_self(vault.addr, lost).status_code == 403  # as if it had expired while the stack was down

    services.Vault().after_healthy(stack.state)  # what every `up` runs once Vault is unsealed

    admin = stack.state.secrets[vault_access.ADMIN_KEY]
    assert admin != lost
    assert sorted(lookup_self(vault.addr, admin).json()["data"]["policies"]) == ["botpool-stack-admin", "default"]
    own = lookup_self(vault.addr, generated_root).json()["data"]["accessor"]
    roots = [t["accessor"] for t in every_token(vault.addr, generated_root) if "root" in t["policies"]]
    assert roots == [own], "the root token generated for the new admin token was revoked"


@pytest.mark.parametrize("role", list(vault_access.ROLES))
def test_each_control_plane_role_has_its_own_periodic_token_with_only_the_activator_policy(
    stack: Stack, vault: VaultHandle, role: str
) -> None:
    info = lookup_self(vault.addr, vault_access.role_token(stack.state, role)).json()["data"]
    assert sorted(info["policies"]) == ROLE_POLICIES
    assert info["role"] == vault_access.ROLES[role]
    assert info["orphan"] and info["renewable"] and not info["explicit_max_ttl"]
    assert info["creation_ttl"] == 720 * 3600, "the role's period (a default token would get 768 h)"
    tokens = {vault_access.role_token(stack.state, r) for r in vault_access.ROLES}
    assert len(tokens) == len(vault_access.ROLES), "every role its own token"


def test_each_process_is_given_its_own_role_token_and_no_admin_token(stack: Stack) -> None:
    tokens = {role: vault_access.role_token(stack.state, role) for role in vault_access.ROLES}
    assert stack.env()["VAULT_TOKEN"] == tokens["operator"]  # the developer's shell and the CLI
    assert ReconcilerService().env(stack.state)["VAULT_TOKEN"] == tokens["reconciler"]
    assert sales.activator_token(stack) == tokens["sales-bot"]  # what `up` writes to the sales bot's env file
    for role, token in tokens.items():
        assert services.control_env(stack.state, role)["VAULT_TOKEN"] == token
    admin = stack.state.secrets[vault_access.ADMIN_KEY].encode()
    assert admin not in (stack.root / "stack.env").read_bytes()
    for pid in stack_processes(stack):
        try:
            environ, cmdline = (Path(f"/proc/{pid}/{name}").read_bytes() for name in ("environ", "cmdline"))
        except OSError:
            continue  # ended while we looked
        assert admin not in environ and admin not in cmdline, pid


@pytest.fixture
def last_renewal(stack: Stack, vault: VaultHandle) -> int:
    """When the reconciler's token was last renewed (0: never), looked at before the reconciler starts."""
    info = lookup_self(vault.addr, vault_access.role_token(stack.state, "reconciler")).json()["data"]
    return int(info.get("last_renewal_time") or 0)


async def test_the_reconciler_runs_with_its_role_token_and_renews_it(
    stack: Stack, vault: VaultHandle, last_renewal: int, reconciler: Path  # after last_renewal
) -> None:
    token = vault_access.role_token(stack.state, "reconciler")
    mine = [pid for pid in process.processes_mentioning("-m\0reconciler") if process.parent(pid) == os.getpid()]
    assert len(mine) == 1
    environ = dict(e.split(b"=", 1) for e in Path(f"/proc/{mine[0]}/environ").read_bytes().split(b"\0") if b"=" in e)
    assert environ[b"VAULT_TOKEN"] == token.encode()
    # A periodic token dies unless its holder renews it: the reconciler does at start (then hourly).
    async with asyncio.timeout(60):
        while True:
            info = lookup_self(vault.addr, token).json()["data"]
            if int(info.get("last_renewal_time") or 0) > last_renewal:
                break
            await asyncio.sleep(0.2)


@pytest.mark.parametrize("role", list(vault_access.ROLES))
def test_a_role_token_reads_tenant_secrets_only_wrapped_and_no_handoff_policy_or_token(
    stack: Stack, vault: VaultHandle, role: str
) -> None:
    inspector = {"X-Vault-Token": vault.token}
    tenant, alloc = f"t_{uuid.uuid4().hex[:12]}", uuid.uuid4()
    secret = f"{vault.addr}/v1/secret/data/tenants/{tenant}/bot"
    handoff = f"{vault.addr}/v1/secret/data/handoff/{alloc}/1"
    for url in (secret, handoff):
        httpx.post(url, headers=inspector, json={"data": {"bot_token": "123:secret"}}, timeout=10).raise_for_status()
    headers = {"X-Vault-Token": vault_access.role_token(stack.state, role)}

    plain = httpx.get(secret, headers=headers, timeout=10)
    assert plain.status_code in (400, 403) and b"123:secret" not in plain.content
    wrapped = httpx.get(secret, headers={**headers, "X-Vault-Wrap-TTL": "60"}, timeout=10)
    assert wrapped.status_code == 200 and wrapped.json()["wrap_info"]["creation_path"].endswith(f"{tenant}/bot")
    assert httpx.get(handoff, headers=headers, timeout=10).status_code == 403
    assert httpx.get(f"{vault.addr}/v1/secret/metadata/tenants", params={"list": "true"}, headers=headers,
                     timeout=10).status_code == 403
    for name in ("botpool-activator", "botpool-stack-admin", "anything"):
        changed = httpx.put(f"{vault.addr}/v1/sys/policies/acl/{name}", headers=headers,
                            json={"policy": 'path "*" { capabilities = ["sudo"] }'}, timeout=10)
        assert changed.status_code == 403, name
    created = httpx.post(f"{vault.addr}/v1/auth/token/create", headers=headers, json={}, timeout=10)
    assert created.status_code == 403


def test_the_stack_admin_token_reads_no_secret_and_cannot_widen_itself(stack: Stack, vault: VaultHandle) -> None:
    headers = {"X-Vault-Token": stack.state.secrets[vault_access.ADMIN_KEY]}
    assert sorted(lookup_self(vault.addr, headers["X-Vault-Token"]).json()["data"]["policies"]) == [
        "botpool-stack-admin", "default"
    ]
    tenant = f"t_{uuid.uuid4().hex[:12]}"
    url = f"{vault.addr}/v1/secret/data/tenants/{tenant}/bot"
    httpx.post(url, headers={"X-Vault-Token": vault.token}, json={"data": {"bot_token": "123:secret"}},
               timeout=10).raise_for_status()
    assert httpx.get(url, headers=headers, timeout=10).status_code == 403
    assert httpx.get(url, headers={**headers, "X-Vault-Wrap-TTL": "60"}, timeout=10).status_code == 403
    widened = httpx.put(f"{vault.addr}/v1/sys/policies/acl/botpool-stack-admin", headers=headers,
                        json={"policy": 'path "*" { capabilities = ["sudo"] }'}, timeout=10)
    assert widened.status_code == 403
    assert httpx.post(f"{vault.addr}/v1/auth/token/create", headers=headers, json={}, timeout=10).status_code == 403
