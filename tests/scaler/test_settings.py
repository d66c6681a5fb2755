"""The scaler refuses contradictory settings at start, naming the variables, instead of flapping later."""

from __future__ import annotations

import subprocess
import sys

import pytest

from botpool.errors import ConfigurationError
from scaler import settings as scaler_settings

KNOBS = ("MIN_FREE_BOTS", "SCALE_BATCH", "MAX_TOTAL_BOTS", "CHECK_INTERVAL", "MAX_FREE_BOTS", "SCALE_IN_COOLDOWN")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in KNOBS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir("/")  # no .env file from the checkout


def test_defaults_are_the_seeds_values() -> None:
    s = scaler_settings.load()
    assert (s.min_free, s.batch, s.max_total, s.check_interval_s) == (3, 5, 100, 30)
    assert s.max_free >= s.min_free + s.batch
    assert s.scale_in_cooldown_s > 0


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MIN_FREE_BOTS": "0"}, "MIN_FREE_BOTS: Input should be greater than or equal to 1"),
        ({"SCALE_BATCH": "many"}, "SCALE_BATCH: Input should be a valid integer"),
        ({"CHECK_INTERVAL": "0"}, "CHECK_INTERVAL: Input should be greater than 0"),
        ({"MIN_FREE_BOTS": "20", "MAX_TOTAL_BOTS": "10", "MAX_FREE_BOTS": "30"},
         "MIN_FREE_BOTS (20) is above MAX_TOTAL_BOTS (10)"),
        ({"MAX_FREE_BOTS": "6"}, "MAX_FREE_BOTS (6) must be at least MIN_FREE_BOTS + SCALE_BATCH (3 + 5 = 8)"),
    ],
)
def test_invalid_settings_are_refused_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigurationError) as info:
        scaler_settings.load()
    assert expected in str(info.value)


def test_the_service_exits_at_start_with_a_clear_message() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "scaler"], env={"MAX_FREE_BOTS": "4", "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60, cwd="/", check=False,
    )
    assert proc.returncode == 2
    assert "MAX_FREE_BOTS (4) must be at least MIN_FREE_BOTS + SCALE_BATCH" in proc.stderr
    assert "Traceback" not in proc.stderr
