"""Where a benchmark's CPU went, by component: the breakdown that tells which part to make cheaper.

A latency figure alone cannot say whether the slots, the sales bot, PostgreSQL or Vault used the two
cores; this samples the CPU time of every process on the machine before and after a phase and sums the
difference per component (recognised by process name and command line). Only the benchmark's own
processes count: the ``roots`` given (the stack's services) and the benchmark process, with all their
descendants (Nomad's executors and slots, PostgreSQL's backends, the stand-ins), so another stack on the
same machine is never added in. Processes that started during the phase count from zero; processes that
ended during it are missed, which is why a benchmark should sample while its stack is still up.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable

import psutil

#: (component, substrings of the name or command line that identify it), first match wins.
COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("slots", ("bot_runtime",)),
    ("sales_bot", ("sales_bot",)),
    ("telegram_standin", ("standins.telegram",)),
    ("yookassa_standin", ("standins.yookassa",)),
    ("reconciler", ("reconciler",)),
    ("scaler", ("scaler",)),
    ("postgresql", ("postgres",)),
    ("redis", ("redis-server",)),
    ("vault", ("vault",)),
    ("consul", ("consul",)),
    ("nomad", ("nomad",)),
)


def _component(proc: psutil.Process) -> str | None:
    try:
        text = " ".join([proc.name(), *proc.cmdline()])
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None
    if proc.pid == os.getpid():
        return "benchmark"
    for name, marks in COMPONENTS:
        if any(mark in text for mark in marks):
            return name
    return None


def _tree(roots: Iterable[int], mark: str | None) -> list[psutil.Process]:
    pids = {*roots, os.getpid()}
    if mark:  # Nomad's executors and tasks outlive their agent's parenthood; they name the stack's folder
        for proc in psutil.process_iter(["cmdline"]):
            if any(mark in part for part in proc.info.get("cmdline") or ()):
                pids.add(proc.pid)
    found: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            found[pid] = root
            found.update((child.pid, child) for child in root.children(recursive=True))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return list(found.values())


def sample(roots: Iterable[int] = (), mark: str | None = None) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of every recognised process under ``roots``, this one, or naming ``mark``, by pid."""
    seen: dict[int, tuple[str, float]] = {}
    for proc in _tree(roots, mark):
        name = _component(proc)
        if name is None:
            continue
        try:
            times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        seen[proc.pid] = (name, times.user + times.system)
    return seen


def spent(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]]) -> dict[str, float]:
    """CPU seconds per component between two samples, largest first."""
    total: dict[str, float] = defaultdict(float)
    for pid, (name, cpu) in after.items():
        total[name] += cpu - before.get(pid, (name, 0.0))[1]
    return {k: round(v, 2) for k, v in sorted(total.items(), key=lambda kv: -kv[1]) if v >= 0.005}
