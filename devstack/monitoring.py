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
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Targets:
    """What Prometheus's Targets page says: how many of its active targets are up, and which are not."""

    up: int
    total: int
    down: tuple[str, ...]

    @property
    def all_up(self) -> bool:
        """Every target scraped successfully (and there is at least one)."""
        return self.total > 0 and self.up == self.total

    def summary(self) -> str:
        """One line for people: "14/14 targets up", or which are not and why."""
        line = f"{self.up}/{self.total} targets up"
        return line if not self.down else f"{line}; not up: {', '.join(self.down)}"


async def targets(state: StackState) -> Targets:
    """Ask Prometheus (``/api/v1/targets``) how its botpool targets are; raises ``httpx.HTTPError``."""
    base = addresses(state)["Prometheus"]
    async with httpx.AsyncClient(timeout=3.0) as client:
        response = await client.get(f"{base}/api/v1/targets", params={"state": "active"})
        response.raise_for_status()
    active = response.json()["data"]["activeTargets"]
    down = tuple(
        f"{t['labels'].get('job', '?')} {t['labels'].get('instance', t.get('scrapeUrl', '?'))} ({t['health']}"
        + (f": {t['lastError']}" if t.get("lastError") else "")
        + ")"
        for t in active
        if t.get("health") != "up"
    )
    return Targets(up=len(active) - len(down), total=len(active), down=down)


async def wait_targets_up(state: StackState, *, timeout_s: float = 60.0) -> Targets:
    """Wait until Prometheus has scraped every target it discovered; the last reading if the time runs out.

    New targets show "unknown" until their first scrape (the scrape interval), and the slots'
    targets come from a file Nomad renders from Consul, so right after ``up`` they appear one by one.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            seen = await targets(state)
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            seen = Targets(0, 0, (f"Prometheus not readable: {type(exc).__name__}",))
        if seen.all_up or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(1.0)


async def health(state: StackState) -> dict[str, tuple[bool, str]]:
    """For ``botpool status``: each UI's address, whether it is ready, and Prometheus's targets."""
    out: dict[str, tuple[bool, str]] = {}
    async with httpx.AsyncClient(timeout=2.0) as client:
        for name, base in addresses(state).items():
            try:
                ready = (await client.get(f"{base}/-/ready")).status_code == 200
            except httpx.HTTPError:
                ready = False
            out[name] = (ready, base if ready else f"{base} (not ready)")
    if out.get("Prometheus", (False, ""))[0]:
        base = addresses(state)["Prometheus"]
        try:
            seen = await targets(state)
            out["Prometheus"] = (seen.all_up, f"{base}: {seen.summary()}")
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            out["Prometheus"] = (False, f"{base}: targets not readable ({type(exc).__name__})")
    return out
