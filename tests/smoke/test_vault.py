"""Vault's response wrapping works exactly as the token handoff needs it to."""

from __future__ import annotations

import uuid

import hvac
import pytest

from botpool.clients import vault as vault_client
from botpool.errors import HandoffRefused
from tests.fixtures.stack import VaultHandle


@pytest.fixture
def client(vault: VaultHandle) -> hvac.Client:
    return hvac.Client(url=vault.addr, token=vault.token)


def test_wrapped_read_lookup_and_single_unwrap(client: hvac.Client, vault: VaultHandle) -> None:
    path = f"tenants/{uuid.uuid4().hex}/bot"
    vault_client.write_kv(client, "secret", path, {"token": "123456:smoke-secret"})

    wrapped = vault_client.read_wrapped(client, "secret", path, ttl_s=300)
    assert wrapped.ttl_s == 300
    assert wrapped.creation_path == f"secret/data/{path}"

    info = vault_client.lookup(vault.addr, wrapped.token)
    assert info["creation_path"] == f"secret/data/{path}"
    assert int(info["creation_ttl"]) == 300

    # The wrapping token is the only credential the receiver has.
    data = vault_client.unwrap_verified(vault.addr, wrapped.token, f"secret/data/{path}")
    assert data == {"token": "123456:smoke-secret"}

    with pytest.raises(HandoffRefused):
        vault_client.unwrap_verified(vault.addr, wrapped.token, f"secret/data/{path}")


def test_rewrapped_token_is_refused_by_path_check(client: hvac.Client, vault: VaultHandle) -> None:
    rewrapped = client.sys.wrap({"token": "999:attacker"}, ttl="300s") if hasattr(client.sys, "wrap") else None
    if rewrapped is None:
        rewrapped = client.adapter.post("/v1/sys/wrapping/wrap", json={"token": "999:attacker"}, wrap_ttl="300s")
    token = rewrapped["wrap_info"]["token"]
    assert rewrapped["wrap_info"]["creation_path"] == "sys/wrapping/wrap"
    with pytest.raises(HandoffRefused, match="sys/wrapping/wrap"):
        vault_client.unwrap_verified(vault.addr, token, "secret/data/tenants/x/bot")
    # The refused token was not consumed by the check: lookup still works.
    assert vault_client.lookup(vault.addr, token)["creation_path"] == "sys/wrapping/wrap"
