"""Submit the scaler job (``jobs/pool-scaler.nomad.hcl``) itself, so tests and operators run the same file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from botpool.clients.nomad import NomadClient

JOB_FILE = Path(__file__).resolve().parents[1] / "jobs" / "pool-scaler.nomad.hcl"
JOB_ID = "pool-scaler"
GROUP = "scaler"


async def submit(
    nomad: NomadClient,
    *,
    env: dict[str, str],
    settings: dict[str, str] | None = None,
    count: int = 2,
    driver: str = "raw_exec",
) -> dict[str, Any]:
    """Parse the HCL with its variables and register the job; raw_exec runs this checkout's interpreter.

    ``settings`` replaces the job's default knobs as a whole (MIN_FREE_BOTS, SCALE_BATCH, ...), so pass
    every knob that should differ from the scaler's own defaults.
    """
    variables: dict[str, Any] = {"count": count, "driver": driver, "env": env}
    if settings is not None:
        variables["settings"] = settings
    if driver == "raw_exec":
        variables.update(python=sys.executable, workdir=str(JOB_FILE.parents[1]))
    job = await nomad.parse_hcl(JOB_FILE.read_text(), variables)
    return await nomad.register(job)
