"""Fixtures of the fault-injection suite: one system under steady load, shared by every fault of a module.

Starting the pool, the control processes and the watched tenants costs about a
minute on a 2-core machine, so a module shares one ``Rig`` (devstack/faults.py)
and each fault test leaves it healed for the next: the rig itself waits until
the system is back to normal after every fault.
"""

from __future__ import annotations

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
slot_env = pool_fixtures.slot_env


@pytest.fixture(scope="module")
async def rig(
    stack: Stack, telegram_standin: TelegramStandin, slot_env: dict[str, str], control_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Rig]:
    """The real pool under load: two reconcilers, two scalers, three watched tenants, a churn of activations."""
    env = stack.env()
    async with wiring.nomad(cfg.load(cfg.NomadSettings, env)) as nomad, wiring.control_plane(
        wiring.ControlPlaneSettings.load(control_env), db_max_size=8
    ) as plane:
        await pool_fixtures._purge(nomad, plane.consul)
        async with running_rig(
            stack, plane.consul, nomad, plane.activator, telegram_standin.base_url, slot_env, control_env,
            tmp_path_factory.mktemp("faults"),
        ) as running:
            yield running
