"""The local stack's lifecycle: `up` is idempotent, `down` leaves no process but keeps the data, `reset` deletes it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx

from devstack import acl, ports, process
from devstack.stack import Stack
from tests.fixtures.stack import inspector_token


def test_up_twice_down_up_keeps_data_and_reset_deletes_it() -> None:
    root = Path(tempfile.mkdtemp(prefix="botpool-lifecycle-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres user must traverse it
    stack = Stack(root, random_ports=True, tied=True)
    try:
        stack.up(timeout=180)
        env = stack.env()
        pids = dict(stack.state.pids)
        assert all(row.healthy for row in stack.status()), stack.status()
        ui = httpx.get(f"{env['CONSUL_HTTP_ADDR']}/ui/", timeout=5)
        assert ui.status_code == 200
        assert "consul" in ui.text.lower()

        again = Stack(root, random_ports=True)  # a second `botpool up` from another process
        again.up(timeout=60)
        assert again.state.pids == pids, "a second up must not start duplicates"

        vault = {"X-Vault-Token": inspector_token(stack)}
        consul = {"X-Consul-Token": acl.consul_token(stack.state, "management")}
        httpx.put(
            f"{env['CONSUL_HTTP_ADDR']}/v1/kv/lifecycle/kept", content=b"yes", headers=consul, timeout=5
        ).raise_for_status()
        httpx.post(
            f"{env['VAULT_ADDR']}/v1/secret/data/lifecycle", headers=vault, json={"data": {"kept": "yes"}}, timeout=5
        ).raise_for_status()

        bound = list(stack.state.ports.values())
        stack.down()
        assert process.processes_mentioning(f"{root}/") == [], "down must leave no process behind"
        assert not any(process.alive(pid) for pid in pids.values())
        assert all(ports.is_free(port) for port in bound)
        assert (root / "stack.json").exists(), "down keeps the data"

        stack.up(timeout=120)
        assert stack.env() == env, "the same addresses and credentials after a restart of the whole stack"
        kept = httpx.get(f"{env['CONSUL_HTTP_ADDR']}/v1/kv/lifecycle/kept?raw", headers=consul, timeout=5)
        assert kept.content == b"yes"
        secret = httpx.get(f"{env['VAULT_ADDR']}/v1/secret/data/lifecycle", headers=vault, timeout=5)
        assert secret.json()["data"]["data"] == {"kept": "yes"}
        pids = dict(stack.state.pids)
    finally:
        stack.reset()
    assert process.processes_mentioning(f"{root}/") == []
    assert not any(process.alive(pid) for pid in pids.values())
    assert not root.exists(), "reset deletes the data"
