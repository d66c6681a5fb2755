"""What an operator reads in a service's log: one line per event, secrets masked, never a traceback."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from botpool import logs

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


@pytest.fixture(autouse=True)
def restored_logging() -> Iterator[None]:
    """``logs.setup`` configures the process; give the next tests back the logging they had."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


def raise_and_log(logger: logging.Logger) -> None:
    try:
        raise ConnectionError(f"could not connect with bot token {TOKEN}")
    except ConnectionError:
        logger.warning("Failed to restore the pool connection floor; retrying", exc_info=True)


def test_a_library_warning_with_a_traceback_is_one_line_with_the_cause(capsys: pytest.CaptureFixture[str]) -> None:
    logs.setup("test-service")
    raise_and_log(logging.getLogger("asyncpg.pool"))  # as asyncpg logs while PostgreSQL restarts
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [
        "Failed to restore the pool connection floor; retrying (ConnectionError: could not connect with bot token "
        "123456789:***)"
    ]


def test_a_service_error_logged_with_its_exception_is_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    log = logs.setup("test-service")
    try:
        raise RuntimeError(f"Vault refused bot token {TOKEN}")
    except RuntimeError:
        log.exception("order watch failed; retrying")
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["event"] == "order watch failed; retrying"
    assert event["exception"] == "RuntimeError: Vault refused bot token 123456789:***"
