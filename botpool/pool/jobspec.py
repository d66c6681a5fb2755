"""Submit the pool job (``jobs/bot-pool.nomad.hcl``) itself, so tests and operators run the same file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from botpool.clients.nomad import NomadClient

JOB_FILE = Path(__file__).resolve().parents[2] / "jobs" / "bot-pool.nomad.hcl"
JOB_ID = "bot-pool"
GROUP = "pool"


async def submit(
    nomad: NomadClient,
    *,
    count: int,
    env: dict[str, str],
    driver: str = "raw_exec",
    max_count: int = 100,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Parse the HCL with its variables and register the job; raw_exec runs this checkout's interpreter."""
    variables: dict[str, Any] = {"count": count, "max_count": max_count, "driver": driver, "env": env}
    if driver == "raw_exec":
        variables.update(python=sys.executable, workdir=str(JOB_FILE.parents[1]))
    variables.update(extra or {})
    job = await nomad.parse_hcl(JOB_FILE.read_text(), variables)
    return await nomad.register(job)
