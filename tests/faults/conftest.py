"""Fixtures of the fault-injection suite: one system under steady load, shared by every fault of a module.

Starting the pool, the control processes and the watched tenants costs about a
minute on a 2-core machine, so a module shares one ``Rig`` (devstack/faults.py)
and each fault test leaves it healed for the next: the rig itself waits until
the system is back to normal after every fault. The rig's stack runs two Nomad
client nodes, so a whole node can be lost or drained; the session's stack goes
back to one node afterwards, as the other suites expect.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from botpool import settings as cfg
from botpool import wiring
from devstack.faults import Rig, running_rig
from devstack.stack import Stack
from tests.fixtures.telegram import TelegramStandin
from tests.pool import conftest as pool_fixtures

# The activator's Vault token and the control processes' environment, as tests/pool makes them.
activator_token = pool_fixtures.activator_token
control_env = pool_fixtures.control_env


@pytest.fixture(scope="module")
async def two_nodes(stack: Stack) -> AsyncIterator[Stack]:
    """The session's stack with a second Nomad client node (and its Consul agent) for this module."""
    await asyncio.to_thread(stack.up, timeout=180, nodes=2)
    try:
        yield stack
    finally:
        await asyncio.to_thread(stack.up, timeout=180, nodes=1)


@pytest.fixture(scope="module")
async def rig(
    two_nodes: Stack, telegram_standin: TelegramStandin, control_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Rig]:
    """The real pool under load on two nodes: two reconcilers, two scalers, three watched tenants, a churn."""
    stack = two_nodes
    slot_env = stack.slot_env(telegram_standin.base_url)  # each slot talks to its own node's Consul agent
    env = stack.env()
    async with wiring.nomad(cfg.load(cfg.NomadSettings, env)) as nomad, wiring.consul(
        cfg.load(cfg.ConsulSettings, env)
    ) as operator_consul, wiring.control_plane(
        wiring.ControlPlaneSettings.load(control_env), db_max_size=8
    ) as plane:
        # Clearing the pool's keys is the operator's job (the reconciler's own token may not delete them wholesale).
        await pool_fixtures._purge(nomad, operator_consul)
        async with running_rig(
            stack, operator_consul, nomad, plane.activator, telegram_standin.base_url, slot_env, control_env,
            tmp_path_factory.mktemp("faults"),
        ) as running:
            yield running
