"""The local stack itself: `up` is idempotent, `status` is truthful, `down` leaves nothing behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import httpx

from devstack import ports, process
from devstack.stack import Stack


def test_up_twice_then_down_leaves_no_process() -> None:
    root = Path(tempfile.mkdtemp(prefix="botpool-lifecycle-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres user must traverse it
    stack = Stack(root, random_ports=True)
    try:
        stack.up(timeout=180)
        pids = dict(stack.state.pids)
        assert all(row.healthy for row in stack.status()), stack.status()
        ui = httpx.get(f"{stack.env()['CONSUL_HTTP_ADDR']}/ui/", timeout=5)
        assert ui.status_code == 200
        assert "consul" in ui.text.lower()

        again = Stack(root, random_ports=True)  # a second `botpool up` from another process
        again.up(timeout=60)
        assert again.state.pids == pids, "a second up must not start duplicates"
        bound = list(stack.state.ports.values())
    finally:
        Stack(root).down()
    assert process.processes_mentioning(str(root)) == []
    assert not any(process.alive(pid) for pid in pids.values())
    assert all(ports.is_free(port) for port in bound)
    assert not root.exists()
