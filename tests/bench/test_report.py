"""The benchmark table says which targets were met, which were missed and which benchmarks did not run.

``make bench`` ends with this table and docs/performance.md keeps it; a row that said "yes" for a
missed target, or a benchmark silently missing from it, would mislead the reader it is for. Pure: it
renders saved results and starts no stack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench import calibration, report

CALIBRATION = {"import_s": 4.0, "import_cpu_s": 3.8, "import_rss_mb": 168.0, "cpu_s": 0.5, "bytecode_cached": 1.0}
MACHINE = {"cpu": "Test CPU", "cores": 2, "memory_gb": 23.5, "python": "3.11.9"}


def save(directory: Path, name: str, result: dict[str, Any]) -> None:
    """Write a result the way ``make bench`` does: the benchmark's output, its JSON object last."""
    (directory / f"{name}.json").write_text(json.dumps(result) + "\n")


def table(directory: Path) -> dict[tuple[str, str], dict[str, str]]:
    """The rendered table's rows by (benchmark, figure)."""
    lines = [line for line in report.render(directory).splitlines() if line.startswith("| ")]
    columns = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for line in lines[1:]:
        cells = dict(zip(columns, (c.strip() for c in line.strip("|").split("|")), strict=True))
        rows[cells["benchmark"], cells["figure"]] = cells
    return rows


def booking(updates_per_s: float, p99_ms: float, cpu_ms: float) -> dict[str, Any]:
    """A booking result shaped as bench/booking.py prints it."""
    result: dict[str, Any] = {
        "updates_per_s": updates_per_s, "p99_ms": p99_ms, "bot_cpu_ms_per_update": cpu_ms, "errors": 0,
        "users": 8, "machine": {"nproc": 2, "cpu": "Test CPU", "python": "3.11.9"},
        "targets": {"updates_per_s": 300, "p99_ms": 50, "bot_cpu_ms_per_update": 2.5, "errors": 0},
        "calibration": CALIBRATION,
    }
    result["ratios"] = calibration.ratios(result, CALIBRATION, {"p99_ms": "cpu_s", "bot_cpu_ms_per_update": "cpu_s"})
    return result


def test_missed_target_is_no_and_met_target_is_yes(tmp_path: Path) -> None:
    save(tmp_path, "booking", booking(updates_per_s=320.0, p99_ms=77.0, cpu_ms=2.0))
    rows = table(tmp_path)
    assert rows["booking", "updates_per_s (8 clients)"]["met"] == "yes"
    assert rows["booking", "bot_cpu_ms_per_update"]["met"] == "yes"
    missed = rows["booking", "p99_ms"]
    assert missed["met"] == "no"
    assert missed["value"] == "77 ms"
    assert missed["target"] == "≤ 50 ms"
    assert missed["ratio to calibration"] == "154 ms per cpu_s"  # 77 ms over a 0.5 s calibration loop


def test_a_ratio_target_counts_with_the_absolute_one(tmp_path: Path) -> None:
    """12 s meets the 12 s target, but on a machine that imports aiogram in 4 s that is 3 import-times."""
    result: dict[str, Any] = {
        "reaction_s": 0.01, "batch_healthy_s": 12.0, "ramp_s": 180.0, "ramp_mem_gb": 16.0,
        "ramp_pss_mb_per_slot": 163.8, "stable": True, "machine": MACHINE, "calibration": CALIBRATION,
        "targets": {"reaction_s": 1.0, "batch_healthy_s": 12, "ramp_to": 100, "ramp_mem_gb": 10,
                    "batch_healthy_s/import_s": 2.5},
    }
    result["ratios"] = calibration.ratios(result, CALIBRATION, {"batch_healthy_s": "import_s"})
    save(tmp_path, "scaling", result)
    rows = table(tmp_path)
    batch = rows["scaling", "batch_healthy_s"]
    assert batch["ratio to calibration"] == "3 × import_s"
    assert batch["target"] == "≤ 12 s; ≤ 2.5 × import_s"
    assert batch["met"] == "no"
    assert rows["scaling", "ramp_mem_gb"]["met"] == "no"
    assert rows["scaling", "stable"]["met"] == "yes"
    assert rows["scaling", "reaction_s"]["met"] == "yes"


def test_missing_and_failed_benchmarks_say_so(tmp_path: Path) -> None:
    save(tmp_path, "booking", booking(updates_per_s=150.0, p99_ms=40.0, cpu_ms=5.6))
    (tmp_path / "purchase.json").write_text("Traceback (most recent call last):\n")
    rows = table(tmp_path)
    for name in ("activation", "scaling", "faults"):
        assert rows[name, "—"]["value"] == "not run"
    assert rows["purchase", "—"]["value"].startswith("failed")
    assert rows["purchase", "—"]["met"] == "no"
    assert rows["booking", "updates_per_s (8 clients)"]["met"] == "no"


def test_each_fault_is_held_to_its_own_recovery_target(tmp_path: Path) -> None:
    faults = {"kill_slot": {"recovery_s": 12.0}, "restart_consul": {"recovery_s": 12.0}}
    result = {
        "faults": faults, "totals": {"lost_activations": 0, "lost_bookings": 1, "double_served": 0},
        "targets": {"recovery_s": {"kill_slot": 10.0, "restart_consul": 30.0}, "lost_activations": 0,
                    "lost_bookings": 0, "double_served": 0},
        "calibration": CALIBRATION, "machine": MACHINE,
        "ratios": calibration.ratios({f"{f}.recovery_s": 12.0 for f in faults}, CALIBRATION,
                                     {f"{f}.recovery_s": "import_s" for f in faults}),
    }
    save(tmp_path, "faults", result)
    rows = table(tmp_path)
    assert rows["faults", "kill_slot recovery_s"]["met"] == "no"
    assert rows["faults", "restart_consul recovery_s"]["met"] == "yes"
    assert rows["faults", "restart_consul recovery_s"]["ratio to calibration"] == "3 × import_s"
    assert rows["faults", "lost_bookings"]["met"] == "no"
    assert rows["faults", "lost_activations"]["met"] == "yes"


def test_header_names_the_machine_and_the_calibration(tmp_path: Path) -> None:
    save(tmp_path, "booking", booking(updates_per_s=320.0, p99_ms=40.0, cpu_ms=2.0))
    head = report.render(tmp_path).splitlines()[:2]
    assert head[0] == "Machine: Test CPU, 2 cores, Python 3.11.9"
    assert "4 s (import_s; 3.8 s of CPU)" in head[1]
    assert "168 MB (import_rss_mb)" in head[1]
    assert "0.5 s (cpu_s)" in head[1]
    assert "compiled bytecode 1" in head[1]


def test_a_figure_not_measured_gets_no_ratio() -> None:
    assert calibration.ratios({"p99": None, "rss_mb": 180.0}, CALIBRATION,
                              {"p99": "cpu_s", "rss_mb": "import_rss_mb", "ramp_s": "import_s"}) == {
        "rss_mb/import_rss_mb": 1.07}
