"""Benchmark: every fault of the fault-injection suite under steady load, with what each cost the users.

Runs its own fresh stack (free ports, two Nomad client nodes, as the fault suite),
the real pool job, two reconcilers and two scalers, three tenants whose bots are probed twice a second and whose clients
book, and a new activation every second (``devstack.faults``, the same driver
as tests/faults). Each fault is injected in turn; per fault it reports:

- ``recovery_s``: from the fault until every watched tenant's bot answered again;
- ``longest_unanswered_s``: the longest any watched bot gave no greeting;
- ``settled_s``: until the whole system was back to normal without an operator;
- ``lost_activations``, ``lost_bookings``, ``double_served``, ``orphan_claims``: must be 0.

Targets (docs/operating.md): recovery <= 10 s after a slot or leader is killed,
<= 30 s after a backing service restarts or a node is lost or drained. ``calibration`` is this machine's
yardsticks measured before the stack starts (``bench.calibration``); ``ratios`` each recovery over the
time of a bare aiogram import (what a restarted slot pays first).

    uv run --frozen python -m bench.faults [fault ...]

Last line: one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

from bench import calibration
from bench.harness import bench_system
from bench.machine import describe
from devstack.faults import FAULTS, running_rig
from devstack.services import control_env as control_env_of

#: Recovery targets of issue 13, by kind of fault.
TARGETS = {"kill": 10.0, "freeze": 10.0, "restart": 30.0, "lose": 30.0, "drain": 30.0}


def target_for(fault: str) -> float:
    """The recovery target of one fault (a killed process, a restarted backing service, a lost or drained node)."""
    return TARGETS[fault.split("_", 1)[0]]


async def main(faults: list[str]) -> None:
    """Run the chosen faults (all by default) on one system and print the reports."""
    calib = calibration.measure()  # before the stack starts: the machine is still quiet
    async with bench_system(nodes=2) as system:
        control_env = control_env_of(system.stack.state, role="reconciler")
        workdir = Path(tempfile.mkdtemp(prefix="botpool-faults-", dir=system.stack.root))
        async with running_rig(
            system.stack, system.consul, system.nomad, system.activator, system.control.base_url,
            system.slot_env, control_env, workdir,
        ) as rig:
            for fault in faults:
                report = await rig.inject(fault)
                print(json.dumps(report.as_dict()), flush=True)
            reports = [r.as_dict() for r in rig.reports]
    recoveries = {f"{r['fault']}.recovery_s": float(r["recovery_s"]) for r in reports}
    result = {
        "faults": {r["fault"]: {k: v for k, v in r.items() if k != "fault"} for r in reports},
        "totals": {
            key: sum(int(r[key]) for r in reports)
            for key in ("lost_activations", "lost_bookings", "double_served", "orphan_claims")
        },
        "targets": {"recovery_s": {f: target_for(f) for f in faults}, "lost_activations": 0, "lost_bookings": 0,
                    "double_served": 0},
        "calibration": calib,
        "ratios": calibration.ratios(recoveries, calib, dict.fromkeys(recoveries, "import_s")),
        "machine": describe(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    chosen = sys.argv[1:] or list(FAULTS)
    unknown = [f for f in chosen if f not in FAULTS]
    if unknown:
        sys.exit(f"unknown fault(s) {', '.join(unknown)}; known: {', '.join(FAULTS)}")
    asyncio.run(main(chosen))
