"""One table of every benchmark's headline figures, their ratios to the calibration and their targets.

Each benchmark prints one JSON object on its last line; ``make bench`` saves those lines as
``.bench/<benchmark>.json``. Read one by one they are five shapes of JSON; a reader deciding whether the
system meets its targets, or comparing two machines, needs one table: the figure, its ratio to the
machine's calibration (``bench.calibration``), the target and whether it was met. The table is markdown
so it can be pasted into docs/performance.md as it is. A benchmark that was not run, or failed before
its result line, still gets a row that says so, so a short table is never mistaken for a complete one.

    uv run --frozen python -m bench.report .bench
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

#: The benchmarks in the order ``make bench`` runs them (the file ``<name>.json`` holds each one's result).
BENCHMARKS = ("activation", "scaling", "booking", "purchase", "faults")
#: The unit of each calibration figure, to name what a ratio is in.
CALIBRATION_UNITS = {"import_s": "s", "import_rss_mb": "MB", "cpu_s": "s"}
#: Faults' figures that must stay at zero, from the benchmark's ``totals``.
FAULT_TOTALS = ("lost_activations", "lost_bookings", "double_served")

Better = Literal["lower", "higher", "true"]


@dataclass(frozen=True)
class Headline:
    """One row: where its figure is in a benchmark's result, how to read it, and what it is held to.

    ``figure``, ``target`` and ``ratio_target`` are keys, dotted for nested objects
    (``faults.kill_slot.recovery_s``); ``ratio`` is a key of the result's ``ratios``.
    """

    figure: str
    unit: str = ""
    better: Better = "lower"
    target: str | None = None
    ratio: str | None = None
    ratio_target: str | None = None


#: The headline figures of each benchmark (the faults benchmark's rows depend on the faults it ran).
HEADLINES: dict[str, tuple[Headline, ...]] = {
    "activation": (
        Headline("p99", "s", target="p99_s", ratio="p99/cpu_s"),
        Headline("p50", "s"),
        Headline("cold_median", "s", ratio="cold_median/import_s"),
        Headline("ratio", "×", "higher", target="ratio"),
        Headline("rss_mb", "MB", ratio="rss_mb/import_rss_mb"),
        Headline("rss_over_floor_mb", "MB", target="rss_over_floor_mb"),
        Headline("rss_after_serving_mb", "MB", ratio="rss_after_serving_mb/import_rss_mb"),
        Headline("rss_after_serving_over_fresh_mb", "MB", target="rss_after_serving_over_fresh_mb"),
        Headline("idle_cpu_pct", "%", target="idle_cpu_pct", ratio="idle_cpu_pct/cpu_s"),
    ),
    "scaling": (
        Headline("reaction_s", "s", target="reaction_s"),
        Headline("batch_healthy_s", "s", target="batch_healthy_s", ratio="batch_healthy_s/import_s",
                 ratio_target="batch_healthy_s/import_s"),
        Headline("ramp_s", "s", ratio="ramp_s/import_s"),
        Headline("ramp_mem_gb", "GB", target="ramp_mem_gb"),
        Headline("ramp_pss_mb_per_slot", "MB", ratio="ramp_pss_mb_per_slot/import_rss_mb"),
        Headline("stable", better="true"),
    ),
    "booking": (
        Headline("updates_per_s", "/s", "higher", target="updates_per_s"),
        Headline("p99_ms", "ms", target="p99_ms", ratio="p99_ms/cpu_s"),
        Headline("bot_cpu_ms_per_update", "ms", target="bot_cpu_ms_per_update", ratio="bot_cpu_ms_per_update/cpu_s"),
        Headline("errors", target="errors"),
    ),
    "purchase": (
        Headline("p99", "s", target="p99_s", ratio="p99/cpu_s"),
        Headline("orders_lost", target="orders_lost"),
        Headline("double_activations", target="double_activations"),
    ),
}


@dataclass(frozen=True)
class Row:
    """One line of the table, already formatted."""

    benchmark: str
    figure: str
    value: str
    ratio: str
    target: str
    met: str


def lookup(data: Mapping[str, Any], key: str | None) -> Any:
    """The value at a dotted key, or None where any part is missing."""
    if key is None:
        return None
    value: Any = data
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def load(path: Path) -> dict[str, Any] | None:
    """The last line of ``path`` that is a JSON object (a benchmark's result), or None if there is none."""
    for line in reversed(path.read_text(errors="replace").splitlines()):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return None


def number(value: Any) -> str:
    """A figure as a reader wants it: up to four significant digits, yes/no for a flag, — for none."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return f"{value:.4g}"
    return str(value)


def with_unit(value: Any, unit: str) -> str:
    """A figure followed by its unit (none for counts and flags)."""
    text = number(value)
    if not unit or text == "—" or isinstance(value, bool):
        return text
    return f"{text}{unit}" if unit in ("%", "×") else f"{text} {unit}"


def meets(value: Any, target: Any, better: Better) -> bool | None:
    """Whether ``value`` meets ``target`` (None when either is missing or not comparable)."""
    if better == "true":
        return None if value is None else value is True
    if isinstance(value, bool) or not isinstance(value, int | float) or not isinstance(target, int | float):
        return None
    return value <= target if better == "lower" else value >= target


def ratio_text(value: Any, ratio_key: str, unit: str) -> str:
    """``value`` as a ratio to its calibration figure: ``2.1 × import_s``, or ``8.4 ms per cpu_s`` when the
    units differ (e.g. CPU milliseconds per second of the calibration loop)."""
    if not isinstance(value, int | float):
        return ""
    basis = ratio_key.rsplit("/", 1)[1]
    if CALIBRATION_UNITS.get(basis) == unit:
        return f"{number(value)} × {basis}"
    return f"{with_unit(value, unit)} per {basis}"


def target_text(target: Any, unit: str, better: Better) -> str:
    """The target as a condition: ``≤ 1 s``, ``≥ 300 /s``, ``0``."""
    if better == "true":
        return "yes"
    if target is None:
        return ""
    if target == 0 and better == "lower":
        return "0"
    return f"{'≤' if better == 'lower' else '≥'} {with_unit(target, unit)}"


def row(benchmark: str, result: Mapping[str, Any], head: Headline, label: str | None = None) -> Row:
    """Format one headline of one result."""
    value = lookup(result, head.figure)
    targets = result.get("targets") or {}
    ratios = result.get("ratios") or {}
    ratio = ratios.get(head.ratio) if head.ratio else None
    checks: list[bool | None] = []
    wanted: list[str] = []
    target = lookup(targets, head.target)
    if head.target is not None or head.better == "true":
        checks.append(meets(value, target, head.better))
        wanted.append(target_text(target, head.unit, head.better))
    if head.ratio_target is not None and head.ratio is not None:
        limit = lookup(targets, head.ratio_target)
        checks.append(meets(ratio, limit, head.better))
        basis = head.ratio.rsplit("/", 1)[1]
        wanted.append(f"{'≤' if head.better == 'lower' else '≥'} {number(limit)} × {basis}")
    met = "—" if not checks or None in checks else ("yes" if all(checks) else "no")
    return Row(benchmark, label or head.figure, with_unit(value, head.unit),
               ratio_text(ratio, head.ratio, head.unit) if head.ratio else "", "; ".join(w for w in wanted if w), met)


def fault_headlines(result: Mapping[str, Any]) -> Iterator[tuple[Headline, str]]:
    """The faults benchmark's rows: each fault's recovery against its target, then the losses that must be 0."""
    for fault in result.get("faults") or {}:
        yield (Headline(f"faults.{fault}.recovery_s", "s", target=f"recovery_s.{fault}",
                        ratio=f"{fault}.recovery_s/import_s"), f"{fault} recovery_s")
    for total in FAULT_TOTALS:
        yield Headline(f"totals.{total}", target=total), total


def rows(benchmark: str, result: Mapping[str, Any]) -> list[Row]:
    """Every headline row of one benchmark's result."""
    if benchmark == "faults":
        return [row(benchmark, result, head, label) for head, label in fault_headlines(result)]
    found = []
    for head in HEADLINES[benchmark]:
        label = head.figure
        if benchmark == "booking" and head.figure == "updates_per_s" and "users" in result:
            label = f"updates_per_s ({result['users']} clients)"
        found.append(row(benchmark, result, head, label))
    return found


def machine_text(machine: Mapping[str, Any]) -> str:
    """The machine in one line (the benchmarks describe it in two shapes: ``cores`` or ``nproc``)."""
    parts = [str(machine.get("cpu", "unknown CPU"))]
    cores = machine.get("cores", machine.get("nproc"))
    if cores:
        parts.append(f"{cores} cores")
    if machine.get("memory_gb"):
        parts.append(f"{machine['memory_gb']} GB")
    if machine.get("python"):
        parts.append(f"Python {machine['python']}")
    return ", ".join(parts)


def spread(values: list[float], unit: str) -> str:
    """One calibration figure over the runs: the value, or its range when the runs differ."""
    if not values:
        return "—"
    low, high = min(values), max(values)
    return with_unit(low, unit) if low == high else f"{number(low)}–{with_unit(high, unit)}"


def header(results: Mapping[str, dict[str, Any] | None]) -> list[str]:
    """The machine and the calibration the ratios are relative to."""
    present = [r for r in results.values() if r]
    machines = sorted({machine_text(r["machine"]) for r in present if isinstance(r.get("machine"), Mapping)})
    calibrations = [r["calibration"] for r in present if isinstance(r.get("calibration"), Mapping)]
    lines = [f"Machine: {' / '.join(machines) or 'unknown'}"]
    if calibrations:
        def values(key: str) -> list[float]:
            return [float(c[key]) for c in calibrations if isinstance(c.get(key), int | float)]

        lines.append(
            f"Calibration ({len(calibrations)} run{'s' if len(calibrations) > 1 else ''}, "
            "each benchmark's ratios use its own): "
            f"`import aiogram.types` {spread(values('import_s'), 's')} (import_s; "
            f"{spread(values('import_cpu_s'), 's')} of CPU), "
            f"peak RSS {spread(values('import_rss_mb'), 'MB')} (import_rss_mb); "
            f"CPU loop {spread(values('cpu_s'), 's')} (cpu_s); "
            f"share of aiogram's modules with compiled bytecode {spread(values('bytecode_cached'), '')}"
        )
    else:
        lines.append("Calibration: none measured (results from before bench.calibration)")
    return lines


def render(directory: Path) -> str:
    """The whole table for the results saved in ``directory`` (markdown)."""
    results: dict[str, dict[str, Any] | None] = {}
    table: list[Row] = []
    for benchmark in BENCHMARKS:
        path = directory / f"{benchmark}.json"
        if not path.exists():
            results[benchmark] = None
            table.append(Row(benchmark, "—", "not run", "", "", "—"))
            continue
        result = results[benchmark] = load(path)
        if result is None:
            table.append(Row(benchmark, "—", f"failed: no JSON result (see {benchmark}.log)", "", "", "no"))
            continue
        table.extend(rows(benchmark, result))
    lines = [*header(results), "",
             "| benchmark | figure | value | ratio to calibration | target | met |", "|---|---|---|---|---|---|"]
    lines += [f"| {r.benchmark} | {r.figure} | {r.value} | {r.ratio} | {r.target} | {r.met} |" for r in table]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Print the table for the directory given (``.bench`` by default)."""
    directory = Path(argv[0] if argv else ".bench")
    if not directory.is_dir():
        print(f"{directory} is not a directory of benchmark results; run `make bench` first.", file=sys.stderr)
        return 2
    print(render(directory))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
