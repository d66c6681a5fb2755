"""A test run's stack dies with the run, however the run ends: SIGTERM, SIGKILL, or its guardian killed too.

Each test starts a real pytest run (``hold_stack.py``, using the session stack
fixture) in a folder of its own, lets it bring the stack up with a Nomad job
running, kills it, and checks that nothing of that stack is left: no process
(services, Nomad executors and tasks), no mount, no folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack import orphans, process
from devstack.binaries import REPO_ROOT

HOLD = Path(__file__).with_name("hold_stack.py")


@dataclass
class HeldStack:
    """A child test run holding a stack: its process, the stack folder and every process of the stack."""

    run: subprocess.Popen[bytes]
    base: Path
    root: Path
    services: dict[str, int]
    processes: list[int]


@pytest.fixture
def held() -> Iterator[HeldStack]:
    """Start the child run in a private temp dir and wait until its stack and job are up."""
    base = Path(tempfile.mkdtemp(prefix="botpool-orphans-"))
    os.chmod(base, 0o755)  # noqa: S103 - PostgreSQL runs as the postgres user and must traverse it
    ready = base / "ready.json"
    log = (base / "run.log").open("wb")
    run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "timeout=0", str(HOLD)],
        cwd=REPO_ROOT,
        env={**os.environ, "TMPDIR": str(base), "BOTPOOL_HOLD_READY": str(ready)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not ready.exists():
            if run.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the child run did not bring its stack up:\n" + (base / "run.log").read_text()[-3000:])
            time.sleep(0.2)
        info = json.loads(ready.read_text())
        root = Path(info["root"])
        yield HeldStack(run, base, root, info["services"], process.processes_mentioning(f"{root}/"))
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        log.close()
        orphans.clean(base)  # whatever a failed test left
        shutil.rmtree(base)  # the log, and Nomad's plugin sockets (Go's plugins put them in TMPDIR)


def _mounts_under(root: Path) -> list[str]:
    return [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines() if f"{root}/" in line]


def _gone(held: HeldStack) -> bool:
    return (
        not any(process.alive(pid) for pid in held.processes)
        and process.processes_mentioning(f"{held.root}/") == []
        and _mounts_under(held.root) == []
        and not held.root.exists()
    )


def _wait_gone(held: HeldStack, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not _gone(held):
        if time.monotonic() > deadline:
            left = process.processes_mentioning(f"{held.root}/")
            pytest.fail(f"left behind after {within} s: processes {left}, mounts {_mounts_under(held.root)}")
        time.sleep(0.1)


def test_sigterm_tears_the_stack_down_before_the_run_exits(held: HeldStack) -> None:
    assert len(held.processes) > len(held.services), "Nomad's executors and tasks are part of the stack"
    assert orphans.orphaned(held.base) == [], "a running stack is never taken for an orphan"

    held.run.send_signal(signal.SIGTERM)
    held.run.wait(timeout=120)

    # The run's own teardown did it all before it exited: nothing to wait for.
    assert _gone(held), (process.processes_mentioning(f"{held.root}/"), _mounts_under(held.root))


def test_sigkill_of_the_run_leaves_nothing_once_its_guardian_has_swept(held: HeldStack) -> None:
    held.run.kill()
    held.run.wait()

    _wait_gone(held)


def test_make_clean_removes_a_stack_whose_run_and_guardian_were_both_killed(held: HeldStack) -> None:
    guardians = [pid for pid in process.processes_mentioning("devstack.guard") if process.parent(pid) == held.run.pid]
    assert len(guardians) == 1
    held.run.kill()
    os.kill(guardians[0], signal.SIGKILL)
    held.run.wait()

    # The services themselves die by their parent-death signal alone...
    deadline = time.monotonic() + 15
    while any(process.alive(pid) for pid in held.services.values()):
        assert time.monotonic() < deadline, "services outlived their run"
        time.sleep(0.1)
    # ...but Nomad's executors and tasks are nobody's children: `botpool clean` (make clean) finds them.
    assert orphans.orphaned(held.base) == [held.root]
    done = subprocess.run(
        [sys.executable, "-m", "botpool_cli.main", "clean", "--temp-dir", str(held.base)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"removed orphaned stack {held.root}" in done.stdout.replace("\n", "")
    assert _gone(held)
