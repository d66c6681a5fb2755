"""Structured logging for every service, with secrets redacted as defence in depth.

Code never logs secrets on purpose (settings hold ``SecretStr``, records hide
tokens in their repr), but libraries can: an HTTP client may log a URL that
carries a bot token in its path. A filter on the root handler masks anything
shaped like a Telegram bot token, a Vault token or a password in a DSN before
any line is written.

``redact`` is the one redaction of the project: the services' logs, the
operator CLI's error lines and the Telegram stand-in's access log all use it,
so a secret shape added here is masked everywhere.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import structlog

_PATTERNS = (
    # Telegram bot token, also inside a Bot API path (/bot<id>:<secret>/) and URL-encoded (%3A).
    re.compile(r"(\d{3,})(?::|%3[Aa])[A-Za-z0-9_-]{8,}"),
    re.compile(r"\b(hvs|hvb|hvr|s|b|r)\.[A-Za-z0-9_-]{20,}"),  # Vault tokens (service, batch, recovery)
    re.compile(r"(?<=://)([^:/@\s]+):([^@\s]+)@"),  # user:password@ in URLs / DSNs
)


def redact(text: str) -> str:
    """Mask every secret-shaped substring of ``text``; a bot token keeps its public bot id (``123456:***``)."""
    text = _PATTERNS[0].sub(r"\1:***", text)
    text = _PATTERNS[1].sub("<vault-token>", text)
    return _PATTERNS[2].sub(r"\1:<password>@", text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message with secrets masked, and an attached exception as one line.

    Libraries log through the standard library, some with the traceback attached
    (asyncpg's pool says "Failed to restore the pool connection floor; retrying"
    with ``exc_info`` while PostgreSQL restarts). An operator reading the log needs
    what failed and why, never a traceback, so the exception becomes
    "(ExceptionType: message)" at the end of the line, its message redacted too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message = f"{message} ({type(exc).__name__}: {redact(str(exc))})"
        record.msg, record.args = message, None
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True


def _exception_as_line(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Put an event's exception (``log.exception``, ``exc_info=``) in one field, "Type: message", never a traceback.

    What an operator needs is what failed and why; the field is redacted like every other.
    """
    exc_info = event.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    exc = exc_info if isinstance(exc_info, BaseException) else exc_info[1] if isinstance(exc_info, tuple) else None
    if exc is not None:
        event["exception"] = f"{type(exc).__name__}: {exc}"
    return event


def _handing_over(renderer: Callable[[Any, str, Any], Any]) -> Callable[[Any, str, Any], Any]:
    """The last processor: the rendered line, handed to the stdlib logger without an exception attached.

    structlog's ``log.exception`` ends in the stdlib ``Logger.exception``, which would attach the
    exception to the record once more; the event already carries it as its ``exception`` field.
    """

    def render(logger: Any, name: str, event: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (renderer(logger, name, event),), {"exc_info": False}

    return render


def _redact_event(_: Any, __: str, event: MutableMapping[str, Any]) -> Mapping[str, Any]:
    return {k: redact(v) if isinstance(v, str) else v for k, v in event.items()}


def setup(service: str, *, level: str = "INFO", json: bool = True) -> structlog.stdlib.BoundLogger:
    """Configure stdlib logging and structlog once per process; return the service's logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiogram.event", "aiohttp.access", "httpx", "httpcore", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _exception_as_line,
            _redact_event,
            _handing_over(
                structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
            ),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(service).bind(service=service)
    return logger
