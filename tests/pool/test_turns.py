"""Slots starting on one node take turns at importing aiogram, so the first is ready after one import, not all."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from bot_runtime import turns


def test_the_lock_is_per_nomad_node_and_absent_outside_nomad(tmp_path: Path) -> None:
    alloc = tmp_path / "nomad-2" / "data" / "alloc" / "0f1e" / "alloc"
    assert turns.lock_path({"NOMAD_ALLOC_DIR": str(alloc)}) == tmp_path / "nomad-2" / "data" / turns.LOCK_NAME
    assert turns.lock_path({}) is None
    assert turns.lock_path({"NOMAD_ALLOC_DIR": "/alloc"}) is None  # a container's own view: no shared file


def test_a_second_slot_waits_for_the_first_to_finish_its_turn(tmp_path: Path) -> None:
    lock = tmp_path / turns.LOCK_NAME
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with turns.turn(lock):
            first_in.set()
            time.sleep(0.3)  # the first slot's import
            order.append("first done")

    def second() -> None:
        first_in.wait()
        with turns.turn(lock):
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["first done", "second in"]


def test_no_lock_file_means_no_wait(tmp_path: Path) -> None:
    with turns.turn(tmp_path / "missing-dir" / turns.LOCK_NAME):
        pass  # the file cannot be made: the slot starts without waiting
