"""This machine's own yardsticks, measured in the same run as a benchmark, so its figures can be read across machines.

An absolute figure cannot tell a slower machine from a slower program: 77 ms of bot time per update
may be a regression, or a laptop half as fast as the machine the docs were written on. So every
benchmark measures, at its start and while the machine is still quiet, three things that depend
only on the machine and the locked environment, never on our code:

- ``import_s`` and ``import_rss_mb``: the wall time and peak RSS of a bare ``import aiogram.types``
  in a fresh interpreter (what every slot pays before it can wait for a tenant); ``import_cpu_s``,
  that interpreter's CPU time, tells a busy machine (wall time well above it) from a slow one;
- ``cpu_s``: the CPU time of a fixed, deterministic pure-Python loop (the interpreter's speed on
  this CPU; CPU time rather than wall time, so a neighbour sharing the cores does not count).

``bytecode_cached`` is the share of aiogram's modules that have a compiled ``.pyc`` for this
interpreter. Without them (``uv sync`` does not compile, and ``PYTHONDONTWRITEBYTECODE=1`` keeps the
interpreter from saving them) every import compiles aiogram from source, which costs seconds: a
calibration is only comparable to another with the same value, and so are the slots' start times.

Each benchmark then reports its headline figures also divided by one of them (``ratios``): a batch
of slots healthy in 2.1 import-times, 6 ms of bot CPU per calibration-second. The ratio stays put when
only the machine changes and moves when the program does, which is what a reader comparing two
tables needs to know.

    uv run --frozen python -m bench.calibration
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: Runs of each measurement; the median is reported (one cold run, e.g. a first import that
#: compiles bytecode, does not move it).
RUNS = 3
#: Iterations of the CPU loop: about 0.5-0.7 s of CPU on the 2-core development machine.
CPU_ROUNDS = 300_000
#: What the import measurement runs: the library every slot loads before it waits, nothing of ours.
IMPORT_CODE = "import aiogram.types"
#: Run after the import: the interpreter reports its own peak RSS (VmHWM, in kB) and CPU seconds.
#: The kernel's per-child ``ru_maxrss`` is no use here: a child spawned with vfork (as ``posix_spawn``
#: and ``subprocess`` do) inherits the parent's high-water mark, so a benchmark that has already
#: imported much would report its own size instead of the import's.
REPORT_CODE = (
    "import os\n"
    "hwm = next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
    "print(hwm, sum(os.times()[:2]))"
)


def _import_once() -> tuple[float, float, float]:
    """Run a fresh interpreter that only imports aiogram.types: its wall time, peak RSS (MB) and CPU seconds."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", f"{IMPORT_CODE}\n{REPORT_CODE}"], capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no error output"])[-1]
        raise RuntimeError(f"the calibration import ({IMPORT_CODE!r} in {sys.executable}) failed: {last}")
    hwm_kb, cpu_s = done.stdout.split()
    return elapsed, int(hwm_kb) / 1024, float(cpu_s)


def cpu_loop(rounds: int = CPU_ROUNDS) -> int:
    """A fixed mix of what a bot's Python does (dicts, strings, small lists, integer arithmetic).

    Deterministic and allocation-light, so its time depends on the CPU and the interpreter only;
    the returned checksum keeps the work from being optimised away and proves it was the same work.
    """
    checksum = 0
    for i in range(rounds):
        record: dict[str, str] = {"id": str(i), "name": f"client-{i % 97}", "slot": str((i * 7) % 48)}
        text = record["name"].upper() + ":" + record["slot"]
        parts = sorted([i % 13, i % 7, i % 11, i % 5, i % 3])
        checksum = (checksum * 31 + len(text) + sum(parts) + text.lower().find("t-")) % 1_000_000_007
    return checksum


def _cpu_once() -> float:
    """CPU seconds (not wall time) of one loop, so another process sharing the cores does not count."""
    started = time.process_time()
    cpu_loop()
    return time.process_time() - started


def bytecode_cached(package: str = "aiogram") -> float:
    """The share of ``package``'s modules with a ``.pyc`` this interpreter would load instead of compiling."""
    spec = importlib.util.find_spec(package)
    roots = (spec.submodule_search_locations or []) if spec else []
    sources = [path for root in roots for path in Path(root).rglob("*.py")]
    if not sources:
        return 0.0
    cached = sum(Path(importlib.util.cache_from_source(str(path))).exists() for path in sources)
    return round(cached / len(sources), 2)


def measure() -> dict[str, float]:
    """Measure the calibration now (median of ``RUNS`` each); call it before a benchmark's stack starts."""
    imports = [_import_once() for _ in range(RUNS)]
    cpu = [_cpu_once() for _ in range(RUNS)]
    return {
        "import_s": round(statistics.median(t for t, _, _ in imports), 3),
        "import_cpu_s": round(statistics.median(c for _, _, c in imports), 3),
        "import_rss_mb": round(statistics.median(m for _, m, _ in imports), 1),
        "cpu_s": round(statistics.median(cpu), 3),
        "bytecode_cached": bytecode_cached(),
    }


def ratio_key(figure: str, basis: str) -> str:
    """The key a ratio is reported under, e.g. ``batch_healthy_s/import_s`` (readers find it by this)."""
    return f"{figure}/{basis}"


def ratios(
    figures: Mapping[str, Any], calibration: Mapping[str, Any], basis: Mapping[str, str]
) -> dict[str, float]:
    """Each figure ``basis`` names a calibration figure for, divided by it, under ``ratio_key``.

    ``figures`` may be a benchmark's whole result: only the figures in ``basis`` are used. One that
    was not measured (None, not a number) or a basis missing from the calibration gives no ratio
    rather than a made-up one.
    """
    out: dict[str, float] = {}
    for figure, name in basis.items():
        value, base = figures.get(figure), calibration.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if isinstance(base, int | float) and base > 0:
            out[ratio_key(figure, name)] = float(f"{value / base:.3g}")
    return out


if __name__ == "__main__":
    print(json.dumps(measure()))
