"""The pause fence refuses a frozen slot's first request on waking, before any timer-driven check runs."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiogram import Bot
from aiogram.methods import GetUpdates

from bot_runtime.fence import Fenced, PauseFence


async def test_a_woken_slot_sends_nothing_and_handles_nothing_until_rearmed() -> None:
    fence = PauseFence(tick_s=0.05, limit_s=0.3)
    paused: list[float] = []
    noticed = asyncio.Event()

    async def on_pause(seconds: float) -> None:
        paused.append(seconds)
        noticed.set()

    watcher = asyncio.create_task(fence.watch(on_pause))
    try:
        await asyncio.sleep(0.2)
        assert not fence.frozen()
        time.sleep(0.6)  # the whole process stands still, as under SIGSTOP
        # Right on waking, before the watcher has run: the fence already holds.
        assert fence.frozen()
        sent: list[object] = []

        async def make_request(bot: Bot, method: object) -> object:
            sent.append(method)
            return []

        with pytest.raises(Fenced):
            await fence.requests()(make_request, Bot("1:" + "a" * 35), GetUpdates())  # type: ignore[arg-type]
        handled: list[object] = []

        async def handler(event: object, data: dict[str, object]) -> object:
            handled.append(event)
            return True

        assert await fence.updates()(handler, object(), {}) is None  # type: ignore[arg-type]
        assert sent == [] and handled == []
        await asyncio.wait_for(noticed.wait(), 5)
        assert paused[0] > 0.3
        assert fence.frozen()  # stays tripped: the paused tenant is never served again from here
        fence.rearm()  # a new tenant assigned later is served
        assert not fence.frozen()
        assert await fence.updates()(handler, object(), {}) is True  # type: ignore[arg-type]
    finally:
        watcher.cancel()
