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

from consul.aio import Consul

from botpool import jobspec, wiring
from botpool import settings as cfg
from botpool.clients.nomad import NomadClient
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
async def bench_system(*, nodes: int = 1) -> AsyncIterator[BenchSystem]:
    """Start the stack and the stand-in, open the clients, prepare the activator; tear all down afterwards.

    ``nodes=2`` runs a second Nomad client node, as the fault benchmark does to lose or drain one.
    """
    root = Path(tempfile.mkdtemp(prefix="botpool-bench-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres user must traverse it
    stack = Stack(root, random_ports=True, tied=True)
    async with contextlib.AsyncExitStack() as cleanup:
        cleanup.callback(stack.reset)
        stack.up(timeout=180, nodes=nodes)
        standin = await runner.start(root / "standin.log")
        cleanup.push_async_callback(runner.stop, standin.process)
        env = stack.env()
        plane = await cleanup.enter_async_context(wiring.control_plane(wiring.ControlPlaneSettings.load(env)))
        nomad = await cleanup.enter_async_context(wiring.nomad(cfg.load(cfg.NomadSettings, env)))
        control = TelegramControl(standin.base_url)
        cleanup.push_async_callback(control.aclose)
        try:
            yield BenchSystem(stack, nomad, plane.consul, control, plane.activator, stack.slot_env(standin.base_url))
        finally:
            with contextlib.suppress(Exception):
                await nomad.stop(jobspec.POOL.id, purge=True)
