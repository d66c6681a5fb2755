"""Restarting Consul, Nomad, Vault or PostgreSQL on the local stack loses nothing they hold.

These are the restarts the fault-injection suite injects under load; here each
is done on an idle stack of the module's own, with one piece of data to keep.
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from devstack import acl, process
from devstack.services import Postgres
from devstack.stack import Stack
from tests.fixtures.stack import inspector_token


def test_consul_restart_keeps_kv(own_stack: Stack) -> None:
    consul = own_stack.env()["CONSUL_HTTP_ADDR"]
    admin = {"X-Consul-Token": acl.consul_token(own_stack.state, "management")}
    key = f"restart/{uuid.uuid4().hex}"
    httpx.put(f"{consul}/v1/kv/{key}", content=b"kept", headers=admin, timeout=5).raise_for_status()
    before = own_stack.state.pids["consul"]

    own_stack.restart("consul")

    assert own_stack.state.pids["consul"] != before
    assert not process.alive(before)
    assert httpx.get(f"{consul}/v1/kv/{key}?raw", headers=admin, timeout=5).content == b"kept"


def test_vault_restart_keeps_secret_and_is_unsealed_again(own_stack: Stack) -> None:
    env = own_stack.env()
    headers = {"X-Vault-Token": inspector_token(own_stack)}
    path = f"{env['VAULT_ADDR']}/v1/secret/data/restart/{uuid.uuid4().hex}"
    httpx.post(path, headers=headers, json={"data": {"token": "123:kept"}}, timeout=5).raise_for_status()
    before = own_stack.state.pids["vault"]

    own_stack.restart("vault")

    assert not process.alive(before)
    health = httpx.get(f"{env['VAULT_ADDR']}/v1/sys/health", timeout=5).json()
    assert health["initialized"] and not health["sealed"]
    assert httpx.get(path, headers=headers, timeout=5).json()["data"]["data"] == {"token": "123:kept"}
    # The unseal key and the Vault tokens travel over loopback HTTP only, never on a command line.
    secrets = (own_stack.state.secrets["vault_unseal_key"].encode(), env["VAULT_TOKEN"].encode())
    assert not [argv for argv in _command_lines() if any(secret in argv for secret in secrets)]


def test_nomad_restart_keeps_the_job_running_untouched(own_stack: Stack) -> None:
    nomad = own_stack.env()["NOMAD_ADDR"]
    admin = {"X-Nomad-Token": acl.nomad_token(own_stack.state, "management")}
    job_id = f"restart-{uuid.uuid4().hex[:8]}"
    httpx.post(f"{nomad}/v1/jobs", json={"Job": _sleeper(job_id)}, headers=admin, timeout=10).raise_for_status()
    try:
        alloc = _wait_running(nomad, job_id, admin)
        task = process.processes_mentioning(alloc["ID"])  # the executor and the task carry the alloc id
        assert task, "the running task must be visible"
        before = own_stack.state.pids["nomad"]

        own_stack.restart("nomad")

        assert not process.alive(before)
        allocs = httpx.get(f"{nomad}/v1/job/{job_id}/allocations", headers=admin, timeout=5).json()
        assert [(a["ID"], a["ClientStatus"]) for a in allocs] == [(alloc["ID"], "running")]
        assert all(process.alive(pid) for pid in task), "the task ran on through the agent's restart"
    finally:
        httpx.delete(f"{nomad}/v1/job/{job_id}", params={"purge": "true"}, headers=admin, timeout=10)


def test_postgres_restart_keeps_rows(own_stack: Stack) -> None:
    dsn = Postgres().dsn(own_stack.state)
    table = f"restart_{uuid.uuid4().hex[:8]}"
    _psql(dsn, f"CREATE TABLE {table} (v text); INSERT INTO {table} VALUES ('kept')")

    own_stack.restart("postgres")

    assert _psql(dsn, f"SELECT v FROM {table}") == "kept"


def test_redis_restart_comes_back_healthy(own_stack: Stack) -> None:
    before = own_stack.state.pids["redis"]

    own_stack.restart("redis")

    assert not process.alive(before)
    assert {row.name: row.problem for row in own_stack.status()}["redis"] is None


def _command_lines() -> list[bytes]:
    lines = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines.append(path.read_bytes())
        except OSError:
            continue  # ended while we looked
    return lines


def _psql(dsn: str, sql: str) -> str:
    """Run ``sql`` with psql; the password goes by environment, never on a command line."""
    parts = urlsplit(dsn)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PGPASSWORD": parts.password or ""}
    argv = ["psql", "-h", parts.hostname or "", "-p", str(parts.port), "-U", parts.username or "",
            "-d", parts.path.lstrip("/"), "-tAc", sql]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True, env=env)
    return done.stdout.strip()


def _sleeper(job_id: str) -> dict[str, Any]:
    return {
        "ID": job_id,
        "Name": job_id,
        "Type": "service",
        "Datacenters": ["*"],
        "TaskGroups": [
            {
                "Name": "g",
                "Count": 1,
                "Tasks": [
                    {
                        "Name": "sleep",
                        "Driver": "raw_exec",
                        "Config": {"command": "/bin/sleep", "args": ["infinity"]},
                        "Resources": {"CPU": 20, "MemoryMB": 16},
                    }
                ],
            }
        ],
    }


def _wait_running(nomad: str, job_id: str, headers: dict[str, str], within: float = 60) -> dict[str, Any]:
    """Block on the job's allocations (Nomad blocking queries) until one runs."""
    index, deadline = 0, time.monotonic() + within
    while time.monotonic() < deadline:
        resp = httpx.get(
            f"{nomad}/v1/job/{job_id}/allocations", params={"index": index, "wait": "5s"}, headers=headers, timeout=10
        )
        index = int(resp.headers.get("X-Nomad-Index", "0"))
        running = [a for a in resp.json() if a["ClientStatus"] == "running"]
        if running:
            return dict(running[0])
    raise AssertionError(f"{job_id} not running after {within} s")
