"""A throwaway real system for one benchmark run: its own stack on free ports, the stand-in, and open clients.

The pool benchmarks (activation, scaling) need the same things a test
session has: Nomad, Consul, Vault, PostgreSQL and Redis on loopback, the
Telegram stand-in, an activator, and the pool job's slot environment. This
brings them up, and takes everything down again (the pool job purged, every
client closed, the stack stopped) however the run ends.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import hvac
import redis.asyncio as aioredis
from consul.aio import Consul

from botpool.clients import consul as consul_client
from botpool.clients.nomad import NomadClient
from botpool.pool import jobspec
from botpool.settings import ConsulSettings
from botpool.tenancy.activation import Activator
from devstack.stack import Stack
from devstack.standins.telegram import runner
from devstack.standins.telegram.client import TelegramControl


@dataclass
class BenchSystem:
    """What a pool benchmark works with."""

    stack: Stack
    nomad: NomadClient
    consul: Consul
    control: TelegramControl
    activator: Activator
    slot_env: dict[str, str]


@contextlib.asynccontextmanager
async def bench_system() -> AsyncIterator[BenchSystem]:
    """Start the stack and the stand-in, open the clients, prepare the activator; tear all down afterwards."""
    root = Path(tempfile.mkdtemp(prefix="botpool-bench-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres user must traverse it
    stack = Stack(root, random_ports=True)
    stack.up(timeout=180)
    standin = await runner.start(root / "standin.log")
    env = stack.env()
    nomad = NomadClient(env["NOMAD_ADDR"])
    consul = consul_client.connect(ConsulSettings(CONSUL_HTTP_ADDR=env["CONSUL_HTTP_ADDR"]))
    control = TelegramControl(standin.base_url)
    db = await asyncpg.create_pool(env["BOTPOOL_DATABASE_URL"], min_size=1, max_size=4)
    redis = aioredis.Redis.from_url(env["BOTPOOL_REDIS_URL"])
    activator = Activator(
        consul=consul, vault=hvac.Client(url=env["VAULT_ADDR"], token=env["VAULT_TOKEN"]), kv_mount="secret",
        db=db, redis_admin=redis, database_name="botpool",
    )
    try:
        await activator.prepare()
        yield BenchSystem(stack, nomad, consul, control, activator, stack.slot_env(standin.base_url))
    finally:
        with contextlib.suppress(Exception):
            await nomad.stop(jobspec.JOB_ID, purge=True)
        await control.aclose()
        await db.close()
        await redis.aclose()
        await consul.close()
        await nomad.aclose()
        await runner.stop(standin.process)
        stack.down()
