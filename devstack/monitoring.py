"""The local stack's Prometheus and Alertmanager: Debian's binaries, run by Nomad as job ``monitoring``.

``botpool up`` submits ``jobs/monitoring.nomad.hcl`` with the repository's ``monitoring/`` files, two
ports picked like the stack's own (the usual 9090 and 9093 when free, remembered in the stack's state
so they stay the same across ``down`` and ``up``) and the data under the stack's folder, then waits
until both answer ``/-/ready``. ``down`` stops them with every other Nomad task; the next ``up`` finds
their data again.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from botpool import jobspec
from botpool.clients.nomad import NomadClient
from botpool.errors import DependencyUnavailable
from devstack import ports
from devstack.binaries import REPO_ROOT
from devstack.state import StackState

#: The repository's Prometheus and Alertmanager configuration (checked by tests/monitoring).
CONFIG_DIR = REPO_ROOT / "monitoring"
#: Port labels in the stack's state, with the ports a human-run stack prefers.
PORT_LABELS = {"prometheus": 9090, "alertmanager": 9093}


def assign_ports(state: StackState, *, random_ports: bool = False) -> dict[str, int]:
    """Pick (once) and remember Prometheus's and Alertmanager's ports, never one the stack already uses."""
    taken = set(state.ports.values())
    for label, preferred in PORT_LABELS.items():
        if label not in state.ports:
            state.ports[label] = ports.pick(None if random_ports else preferred, taken=taken)
    state.save()
    return {label: state.ports[label] for label in PORT_LABELS}


def addresses(state: StackState) -> dict[str, str]:
    """The UIs' addresses, for ``botpool up`` to print; empty before the ports are assigned."""
    if not all(label in state.ports for label in PORT_LABELS):
        return {}
    return {
        "Prometheus": f"http://127.0.0.1:{state.ports['prometheus']}",
        "Alertmanager": f"http://127.0.0.1:{state.ports['alertmanager']}",
    }


async def deploy(
    nomad: NomadClient,
    state: StackState,
    *,
    random_ports: bool = False,
    operator_webhook_url: str | None = None,
    config: jobspec.MonitoringConfig | None = None,
) -> dict[str, str]:
    """Submit the monitoring job (unchanged: nothing happens) and return the UIs' addresses.

    ``operator_webhook_url`` is where Alertmanager sends alerts; ``None`` keeps the job's default, the
    operator bot's usual local address (Alertmanager logs failed sends while nothing listens there).
    ``config`` replaces the repository's monitoring/ files (``None``: those files), so a test can run
    the same rules with shorter intervals instead of waiting minutes for them.
    """
    chosen = assign_ports(state, random_ports=random_ports)
    data_dir = state.root / "monitoring"
    data_dir.mkdir(parents=True, exist_ok=True)
    await jobspec.submit_monitoring(
        nomad,
        config=config or jobspec.MonitoringConfig.read(CONFIG_DIR),
        prometheus_port=chosen["prometheus"],
        alertmanager_port=chosen["alertmanager"],
        data_dir=str(data_dir),
        operator_webhook_url=operator_webhook_url,
    )
    return addresses(state)


async def wait_ready(state: StackState, *, timeout_s: float = 180.0) -> None:
    """Wait until Prometheus and Alertmanager both answer ``/-/ready`` (what their UIs need)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        for name, base in addresses(state).items():
            while True:
                try:
                    if (await client.get(f"{base}/-/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise DependencyUnavailable(
                        f"{name} did not become ready at {base} within {timeout_s:.0f} s; "
                        "see `nomad alloc logs -job monitoring`"
                    )
                await asyncio.sleep(0.5)
