"""The second node of the local stack (``botpool up --nodes 2``): a Consul client agent and a client-only Nomad agent.

Both run on the same machine as the first node, with their own data dirs and
ports, so the pool can be spread over two nodes and a whole node can be lost
or drained under load (tests/faults, bench/faults.py) the way a production
node can. Kept apart from the five backing services because a single-node
stack never starts them.
"""

from __future__ import annotations

import contextlib
import string
from pathlib import Path
from typing import ClassVar

import httpx

from devstack import acl
from devstack.binaries import REPO_ROOT, Binary, ensure
from devstack.services import (
    SECOND_NODE,
    HashiCorpService,
    Service,
    http_ok,
    node_memory_mb,
    node_problem,
    write_private,
)
from devstack.state import StackState


class ConsulClientAgent(HashiCorpService):
    """The Consul client agent of the second node: the slots of that node are registered and checked here.

    Two Nomad clients must not share one Consul agent (each one's service sync
    deregisters the services it does not own on its agent), and in production
    every node has its own agent anyway, whose node check covers its slots'
    registrations: losing the node turns them critical, so its slots drop out
    of the pool. It joins the server over Serf on
    loopback under a node name of its own and keeps its data in its own folder.
    """

    name = "consul-2"
    port_labels: ClassVar[dict[str, int | None]] = {"consul2_http": None, "consul2_serf_lan": None}
    after = ("consul",)
    NODE_NAME = SECOND_NODE

    def binary(self, state: StackState) -> str:
        return state.binaries["consul"]["path"]

    def resolve_binary(self) -> Binary:
        return ensure("consul")

    def argv(self, state: StackState) -> list[str]:
        p = state.ports
        ports = (
            f"ports {{ http = {p['consul2_http']} dns = -1 grpc = -1 grpc_tls = -1 "
            f"serf_lan = {p['consul2_serf_lan']} serf_wan = -1 }}"
        )
        return [
            self.binary(state),
            "agent",
            "-data-dir",
            str(state.root / "consul-2" / "data"),
            "-client",
            "127.0.0.1",
            "-bind",
            "127.0.0.1",
            "-node",
            self.NODE_NAME,
            "-retry-join",
            f"127.0.0.1:{p['consul_serf_lan']}",
            "-log-level",
            "warn",
            "-hcl",
            ports,
            "-hcl",
            "disable_update_check = true",
            "-hcl",
            'check_update_interval = "0s"',
            "-hcl",
            "limits { http_max_conns_per_client = 2000 }",
            # ACLs as on the server; its agent token is set over HTTP (advance), never on this command line.
            "-hcl",
            'acl { enabled = true default_policy = "deny" enable_token_persistence = true }',
        ]

    def advance(self, state: StackState) -> None:
        """Give the agent its token (persisted by the agent), so it may register its node: no node, no slots."""
        base = f"http://127.0.0.1:{state.ports['consul2_http']}"
        headers = {"X-Consul-Token": acl.consul_token(state, "management")}
        with contextlib.suppress(httpx.HTTPError):  # not answering yet: the next poll retries
            httpx.put(f"{base}/v1/agent/token/agent", headers=headers,
                      json={"Token": acl.consul_token(state, "agent")}, timeout=10)

    def problem(self, state: StackState) -> str | None:
        base = f"http://127.0.0.1:{state.ports['consul2_http']}"
        resp = http_ok(f"{base}/v1/status/leader")
        if resp is None or resp.status_code != 200:
            return "not answering"
        if not resp.json():
            return "not joined to the server yet"
        node = http_ok(f"{base}/v1/catalog/node/{self.NODE_NAME}",
                       headers={"X-Consul-Token": acl.consul_token(state, "management")})
        return None if node is not None and node.status_code == 200 and node.json() else "not in the catalog yet"

    def addresses(self, state: StackState) -> dict[str, str]:
        return {"Consul agent 2": f"http://127.0.0.1:{state.ports['consul2_http']}"}


class NomadClientNode(HashiCorpService):
    """The second Nomad client node (``botpool up --nodes 2``): client only, its own data dir, ports and Consul agent.

    It joins the first node's server over RPC; the pool job spreads its slots
    over both nodes, so a whole node can be lost or drained under load
    (tests/faults). Its host ports come from a range the first node never
    uses: both nodes share 127.0.0.1.
    """

    name = "nomad-2"
    port_labels: ClassVar[dict[str, int | None]] = {"nomad2_http": None, "nomad2_rpc": None, "nomad2_serf": None}
    after = ("nomad", "consul-2")
    NODE_NAME = SECOND_NODE
    #: host ports of this node's allocations (the first node keeps Nomad's default 20000-32000)
    DYNAMIC_PORTS = (12000, 19999)

    def binary(self, state: StackState) -> str:
        return state.binaries["nomad"]["path"]

    def resolve_binary(self) -> Binary:
        return ensure("nomad")

    def data_dir(self, state: StackState) -> Path:
        """Where this node keeps its state and its allocations (every task of the node names it)."""
        return node2_dir(state) / "data"

    def config_path(self, state: StackState) -> Path:
        return node2_dir(state) / "agent.hcl"

    def prepare(self, state: StackState) -> None:
        template = string.Template((REPO_ROOT / "nomad" / "client.hcl").read_text())
        self.data_dir(state).mkdir(parents=True, exist_ok=True)
        text = template.substitute(
                node_name=self.NODE_NAME,
                data_dir=self.data_dir(state),
                http_port=state.ports["nomad2_http"],
                rpc_port=state.ports["nomad2_rpc"],
                serf_port=state.ports["nomad2_serf"],
                server_rpc_port=state.ports["nomad_rpc"],
                consul_http_port=state.ports["consul2_http"],
                vault_port=state.ports["vault"],
                memory_mb=node_memory_mb(state),
                min_dynamic_port=self.DYNAMIC_PORTS[0],
                max_dynamic_port=self.DYNAMIC_PORTS[1],
                consul_token=acl.consul_token(state, "nomad"),
        )
        write_private(self.config_path(state), text)  # it holds the agent's Consul token

    def argv(self, state: StackState) -> list[str]:
        return [self.binary(state), "agent", "-config", str(self.config_path(state))]

    def env(self, state: StackState) -> dict[str, str]:
        return {"NOMAD_ADDR": "", "NOMAD_TOKEN": "", "CONSUL_HTTP_TOKEN": ""}

    def problem(self, state: StackState) -> str | None:
        # The server (first node) is the one that knows whether this node is ready.
        base = f"http://127.0.0.1:{state.ports['nomad_http']}"
        headers = acl.nomad_headers(state)
        resp = http_ok(f"{base}/v1/nodes", headers=headers)
        if resp is None or resp.status_code != 200:
            return "server not answering"
        return node_problem(base, [n for n in resp.json() if n.get("Name") == self.NODE_NAME], headers)

    def addresses(self, state: StackState) -> dict[str, str]:
        return {"Nomad node 2": f"http://127.0.0.1:{state.ports['nomad2_http']}"}


#: The second node's agents, in start order.
NODE2: tuple[Service, ...] = (ConsulClientAgent(), NomadClientNode())


def node2_dir(state: StackState) -> Path:
    """The second Nomad node's folder: every process of that node (its tasks too) names it."""
    return state.root / "nomad-2"
