"""/scale refuses nonsense and counts that would stop a busy slot; a valid count is applied once, after the
button, and only by the admin who asked."""

from __future__ import annotations

import pytest

from tests.operator.conftest import MAX_TOTAL, Chat, PoolJob
from tests.scaler.conftest import Tenants

pytestmark = pytest.mark.stack


async def test_nonsense_counts_are_refused_with_one_sentence(admin: Chat, pool: PoolJob) -> None:
    before = await pool.desired()
    expected = {
        "/scale": "Укажите размер пула числом: /scale 20.",
        "/scale lots": "Укажите размер пула числом: /scale 20.",
        "/scale -2": "Размер пула должен быть положительным числом.",
        f"/scale {MAX_TOTAL + 1}": f"Нельзя {MAX_TOTAL + 1}: предел пула — {MAX_TOTAL} (MAX_TOTAL_BOTS).",
    }
    for command, sentence in expected.items():
        message = await admin.say(command)
        assert message["text"] == sentence
        assert not message.get("reply_markup")
    assert await pool.desired() == before


async def test_below_the_highest_busy_slot_is_refused(admin: Chat, pool: PoolJob, tenants: Tenants) -> None:
    first, second = await tenants.activate(), await tenants.activate()
    low, high = sorted((first, second), key=lambda t: t.slot)
    await tenants.release(low)
    try:
        before = await pool.desired()
        message = await admin.say(f"/scale {high.slot}")
        assert message["text"].startswith(f"Нельзя {high.slot}: слот {high.slot} занят клиентом")
        assert not message.get("reply_markup")
        assert await pool.desired() == before
        await tenants.answers(high)
    finally:
        await tenants.release(high)


async def test_a_valid_count_is_applied_once_after_the_askers_button(
    admin: Chat, other_admin: Chat, pool: PoolJob
) -> None:
    before = await pool.desired()
    wanted = before + 1
    assert wanted <= MAX_TOTAL
    offer = await admin.say(f"/scale {wanted}")
    assert f"с {before} до {wanted}" in offer["text"]
    assert await pool.desired() == before  # nothing yet: the button decides

    stale = "Эта кнопка уже недействительна (использована, устарела или не ваша)."
    # Another admin's tap on the asker's button does nothing.
    assert (await other_admin.press(offer, "sc:", force=True))["answer"]["text"] == stale
    assert await pool.desired() == before

    await admin.press(offer, "sc:")
    done = await admin.expect("Готово")
    assert done["text"] == f"Готово: пул изменён с {before} до {wanted} слотов."
    assert await pool.desired() == wanted
    # The same button again: single use.
    assert (await admin.press(offer, "sc:", force=True))["answer"]["text"] == stale
    assert await pool.desired() == wanted
