"""Slots starting together on one machine take turns at their imports, and never wait past the limit.

Each turn is held by a separate open of a lock file, as by a separate slot process
(``flock`` locks belong to the open file, so two opens in one process exclude each
other exactly as two processes do).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from bot_runtime import startgate


def env(directory: Path, *, turns: int, wait_s: float) -> dict[str, str]:
    return {"BOTPOOL_START_TURNS_DIR": str(directory), "BOTPOOL_START_TURNS": str(turns),
            "BOTPOOL_START_TURN_WAIT_S": str(wait_s)}


def test_a_second_slot_waits_for_the_turn_and_gets_it_when_the_first_is_done(tmp_path: Path) -> None:
    settings = env(tmp_path / "turns", turns=1, wait_s=30)
    first_done = threading.Event()
    got: list[tuple[bool, bool]] = []

    def second() -> None:
        with startgate.turn(settings) as held:
            got.append((held, first_done.is_set()))

    with startgate.turn(settings) as held:
        assert held
        waiter = threading.Thread(target=second)
        waiter.start()
        waiter.join(timeout=0.5)
        assert waiter.is_alive(), "the second slot waits while the only turn is taken"
        first_done.set()
    waiter.join(timeout=5)
    assert got == [(True, True)], "it got the turn, and only after the first slot was done"


def test_as_many_slots_as_turns_start_at_once(tmp_path: Path) -> None:
    settings = env(tmp_path, turns=2, wait_s=30)
    with startgate.turn(settings) as a, startgate.turn(settings) as b:
        assert (a, b) == (True, True)


def test_a_slot_starts_anyway_when_no_turn_frees_within_the_limit(tmp_path: Path) -> None:
    settings = env(tmp_path, turns=1, wait_s=0.3)
    with startgate.turn(settings):
        started = time.monotonic()
        with startgate.turn(settings) as held:
            waited = time.monotonic() - started
    assert held is False
    assert 0.3 <= waited < 3


def test_without_a_turns_directory_there_are_no_turns(tmp_path: Path) -> None:
    with startgate.turn({}) as a, startgate.turn({}) as b:
        assert (a, b) == (False, False)


def test_a_bad_turns_setting_stops_the_slot_with_one_sentence(tmp_path: Path) -> None:
    settings = {"BOTPOOL_START_TURNS_DIR": str(tmp_path), "BOTPOOL_START_TURNS": "two"}
    with pytest.raises(SystemExit) as stopped, startgate.turn(settings):
        pass
    assert str(stopped.value) == (
        "bot_runtime: BOTPOOL_START_TURNS must be a whole number and BOTPOOL_START_TURN_WAIT_S a number of seconds"
    )
