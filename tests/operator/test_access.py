"""Only the Telegram ids in OPERATOR_ADMINS use the operator bot; a bad admin list stops it at start."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.operator.conftest import ROOT, Chat, OperatorBot, PoolJob

REFUSAL = "Извините, этот бот только для операторов платформы."

pytestmark = pytest.mark.stack


async def test_a_stranger_gets_one_polite_refusal_whatever_they_send(
    stranger: Chat, operator_bot: OperatorBot, pool: PoolJob
) -> None:
    before = await pool.desired()
    for text in ("/pool", "/scale 5", "/tenant t_abcdef123"):
        assert (await stranger.say(text))["text"] == REFUSAL
    await stranger.tg.send_photo(stranger.bot, stranger.user)
    await stranger.expect()
    # A forged confirmation button of /scale: refused before anything reads it.
    forged = {"message_id": 1, "reply_markup": {"inline_keyboard": [[{"text": "x", "callback_data": "sc:abc:1"}]]}}
    sent = await stranger.tg.send_message(stranger.bot, stranger.user, "/help")
    await stranger.expect()
    forged["message_id"] = sent["message_id"]
    answer = await stranger.press(forged, "sc:", force=True)
    assert answer["answer"]["text"] == REFUSAL

    texts = [m["text"] for m in await stranger.messages()]
    assert texts == [REFUSAL] * 5  # one sentence per message, nothing else
    assert await pool.desired() == before


def test_a_bad_admin_list_stops_the_start_with_one_line() -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
        "OPERATOR_BOT_TOKEN": "123:abc", "OPERATOR_ADMINS": "42, @boss",
        "BOTPOOL_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/botpool",
    }
    done = subprocess.run(
        [sys.executable, "-m", "operator_bot"], env=env, capture_output=True, text=True, timeout=60, check=False,
        cwd=ROOT,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "OPERATOR_ADMINS" in lines[0] and "Telegram user ids" in lines[0], done.stderr
    assert "123:abc" not in done.stderr


def test_a_start_that_fails_is_one_log_line_and_status_1_not_a_traceback() -> None:
    """The database (or Telegram) refusing the bot at start: the operator reads one line, and Nomad restarts it."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT),
        "OPERATOR_BOT_TOKEN": "123:abc", "OPERATOR_ADMINS": "42",
        "BOTPOOL_DATABASE_URL": "postgresql://nobody:s3cret-pw@127.0.0.1:1/botpool",
        "TELEGRAM_API_BASE": "http://127.0.0.1:1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "operator_bot"], env=env, capture_output=True, text=True, timeout=60, check=False,
        cwd=ROOT,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    lines = [line for line in output.strip().splitlines() if line]
    assert len(lines) == 1 and "stopped by an error" in lines[0], output
    assert "s3cret-pw" not in output and "123:abc" not in output
