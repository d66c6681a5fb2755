"""``botpool tenant add`` with bad input: one clear line, exit code 2, no traceback, nothing stored.

Runs against the real stack's PostgreSQL so "nothing stored" is a query of the
control database, not an assumption: once a 10,000-character company name
reached the database and the operator got asyncpg's traceback, and an unknown
time zone was stored and then made every slot fail the tenant.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from botpool.tenancy import store
from devstack.stack import Stack
from tests.fixtures.stack import PostgresHandle

TOKEN = "7098765432:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


@pytest.fixture
async def control_db(postgres: PostgresHandle) -> AsyncIterator[asyncpg.Connection]:
    """The control database with its schema in place (so an absent row means nothing was stored)."""
    conn = await asyncpg.connect(postgres.dsn)
    await store.migrate(conn)
    yield conn
    await conn.close()


def tenant_add(stack: Stack, tmp_path: Path, *args: str, token: str = TOKEN) -> tuple[int, str]:
    """Run the real command, as an operator would, against the test stack."""
    env = {**stack.env(), "BOTPOOL_BOT_TOKEN": token, "COLUMNS": "100", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "botpool_cli.main", "tenant", "add", *args, "--admin", "7",
         "--root", str(tmp_path / "no-stack")],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("args", "token", "says"),
    [
        (["--company", "Я" * 10_000], TOKEN, "The company name is too long: at most 128 characters"),
        (["--company", "Mars Salon", "--timezone", "Mars/Olympus"], TOKEN, "The time zone 'Mars/Olympus' is unknown"),
        (["--company", "Token Salon"], "7098765432:short-secret", "does not look like a bot token"),
        (["--company", "💅💅💅"], TOKEN, "needs at least one letter or digit"),
        (["--company", "Lang Salon", "--language", "de"], TOKEN, "The language must be one of: ru, en."),
    ],
    ids=["10kB-name", "mars-timezone", "bad-token", "only-emoji", "language"],
)
async def test_bad_input_gives_one_line_and_stores_nothing(
    stack: Stack, control_db: asyncpg.Connection, tmp_path: Path, args: list[str], token: str, says: str
) -> None:
    tenant_id = f"t_{uuid.uuid4().hex[:12]}"
    code, out = tenant_add(stack, tmp_path, "--id", tenant_id, *args, token=token)
    lines = [line for line in out.splitlines() if line.strip()]
    assert code == 2, out[-2000:]
    assert len(lines) == 1, f"one line, got {len(lines)}: {out[:500]!r}"
    assert lines[0].startswith("error: ") and says in lines[0], lines[0]
    assert "Traceback" not in out and "asyncpg" not in out and "Failing row" not in out
    assert "Я" * 200 not in out, "the name is not echoed back"
    assert token.split(":", 1)[1] not in out, "the token never appears"
    assert await control_db.fetchval("SELECT count(*) FROM control.tenants WHERE tenant_id = $1", tenant_id) == 0
    bot_id = int(token.split(":", 1)[0])
    assert await control_db.fetchval("SELECT count(*) FROM control.tenants WHERE bot_id = $1", bot_id) == 0
