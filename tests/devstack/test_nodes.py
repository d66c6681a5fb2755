"""A local stack on two Nomad client nodes: the pool spreads over both, each slot on its own node's Consul agent.

``botpool up --nodes 2`` adds a Consul client agent and a client-only Nomad
agent on the same machine. What a developer relies on: the pool's slots land
on both nodes, each slot's service and session belong to the Consul agent of
the node it runs on (so losing the node ends them, as in production), the
node count is remembered by a later ``up``, ``down`` leaves no process of
either node, and going back to one node removes the second from Nomad.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

import httpx

from botpool import jobspec, wiring
from botpool import settings as cfg
from botpool.pool import keys, protocol
from devstack import process
from devstack.services import SECOND_NODE
from devstack.stack import Stack


async def _spread_pool(stack: Stack) -> dict[str, str]:
    """Run a pool of four slots; return each slot's Nomad node name by the Consul node its service is on."""
    env = stack.env()
    async with wiring.nomad(cfg.load(cfg.NomadSettings, env)) as nomad, wiring.consul(
        cfg.load(cfg.ConsulSettings, env)
    ) as consul:
        await jobspec.submit_pool(nomad, count=4, env=stack.slot_env("http://127.0.0.1:9"))
        try:
            await protocol.wait_until(consul, lambda s: len(s.free()) >= 4, timeout_s=180)
            _, services = await consul.catalog.service(keys.SLOT_SERVICE)
            placed = {}
            for service in services:
                alloc = await nomad.allocation(service["ServiceMeta"]["alloc_id"])
                assert alloc is not None
                placed[str(alloc["NodeName"])] = str(service["Node"])
            return placed
        finally:
            await nomad.stop(jobspec.POOL.id, purge=True)
            await protocol.wait_until(consul, lambda s: not s.slots, timeout_s=60)


def test_two_nodes_spread_the_pool_are_remembered_and_leave_nothing_behind() -> None:
    root = Path(tempfile.mkdtemp(prefix="botpool-nodes-"))
    os.chmod(root, 0o755)  # noqa: S103 - the postgres user must traverse it
    stack = Stack(root, random_ports=True, tied=True)
    again = Stack(root, random_ports=True)  # a later `botpool up` from another process, without --nodes
    try:
        stack.up(timeout=180, nodes=2)
        assert {row.name for row in stack.status() if row.healthy} >= {"consul-2", "nomad-2"}, stack.status()

        placed = asyncio.run(_spread_pool(stack))
        assert SECOND_NODE in placed and len(placed) == 2, f"slots on one node only: {placed}"
        first = next(name for name in placed if name != SECOND_NODE)
        assert placed[SECOND_NODE] == SECOND_NODE, "a slot on node 2 registers with node 2's Consul agent"
        assert placed[first] != SECOND_NODE, "a slot on node 1 registers with node 1's Consul agent"

        stack.down()
        assert process.processes_mentioning(f"{root}/") == [], "down must leave no process of either node"

        again = Stack(root, random_ports=True)
        again.up(timeout=180)
        assert again.state.nodes == 2 and {"consul-2", "nomad-2"} <= set(again.state.pids)

        again.up(timeout=180, nodes=1)
        operator = again.env()
        nodes = httpx.get(f"{operator['NOMAD_ADDR']}/v1/nodes", headers={"X-Nomad-Token": operator["NOMAD_TOKEN"]},
                          timeout=10).json()
        assert [n["Name"] for n in nodes if n["Name"] == SECOND_NODE] == [], "node 2 is purged from Nomad"
        assert "nomad-2" not in again.state.pids and not process.processes_mentioning(f"{root}/nomad-2/")
    finally:
        again.down()
        stack.reset()
    assert process.processes_mentioning(f"{root}/") == []
