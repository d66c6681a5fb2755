"""Nomad runs a raw_exec job whose service turns passing in Consul, and scales it through the API."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from consul.aio import Consul as ConsulClient

from botpool.clients.nomad import NomadClient, ScaleBlocked
from devstack.stack import Stack

JOB = Path(__file__).parent / "jobs" / "echo.nomad.hcl"


async def wait_passing(consul: ConsulClient, service: str, want: int, within: float = 60) -> list[dict[str, Any]]:
    """Block on Consul's health endpoint (a blocking query, not a sleep loop) until ``want`` pass."""
    index = None

    async def loop() -> list[dict[str, Any]]:
        nonlocal index
        while True:
            index, nodes = await consul.health.service(service, passing=True, index=index, wait="5s")
            if len(nodes) >= want:
                return list(nodes)

    return await asyncio.wait_for(loop(), within)


@pytest.fixture
async def nomad(nomad_addr: str, stack: Stack) -> AsyncIterator[NomadClient]:
    client = NomadClient(nomad_addr, token=stack.env()["NOMAD_TOKEN"])  # the operator's token
    yield client
    await client.stop("smoke-echo", purge=True)
    await client.aclose()


async def test_raw_exec_service_passes_and_scales(nomad: NomadClient, consul: ConsulClient) -> None:
    job = await nomad.parse_hcl(JOB.read_text(), {"python": sys.executable})
    await nomad.register(job)
    first = await wait_passing(consul, "smoke-echo", 1)
    assert first[0]["Service"]["Port"] > 0

    # The first deployment may still be running; Nomad refuses to scale until it ends.
    for _ in range(120):
        try:
            await nomad.scale("smoke-echo", "web", 2, message="smoke test", meta={"reason": "smoke"})
            break
        except ScaleBlocked:
            await asyncio.sleep(0.5)
    else:
        pytest.fail("scale stayed blocked by the first deployment for 60 s")

    status, _ = await nomad.scale_status("smoke-echo")
    assert status["TaskGroups"]["web"]["Desired"] == 2
    both = await wait_passing(consul, "smoke-echo", 2)
    assert len({n["Service"]["ID"] for n in both}) == 2
    # Nomad's server learns client status a moment after Consul sees the check pass.
    index = 0
    running: list[str] = []
    async with asyncio.timeout(30):
        while len(running) < 2:
            allocs, index = await nomad.allocations_blocking("smoke-echo", index=index, wait="5s")
            running = sorted(a["Name"] for a in allocs if a["ClientStatus"] == "running")
    assert running == ["smoke-echo.web[0]", "smoke-echo.web[1]"]
