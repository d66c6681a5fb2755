"""A buyer acted out against the sales bot through the Telegram and YooKassa stand-ins.

``botpool demo``, ``bench/purchase.py`` and the sales tests all buy a bot the way a person would: write
/start, tap a tariff, create the bot in one tap (or paste a token), name the salon, pick the time zone,
tap "pay", pay on the checkout page (the stand-in's control call), wait for "ready", and talk to the new
bot. Buttons are found by their callback data or URL, so the texts may change without breaking this.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from devstack.standins.telegram.client import BotInfo, CreatedManagedBot, TelegramControl, TgUser
from devstack.standins.yookassa.client import YooKassaControl

JsonDict = dict[str, Any]
#: The text of the sales bot's "ready" message (Russian, the default language) that tests wait for.
READY_MARK = "ВАШ БОТ ГОТОВ"
#: The sales bot's "renewed" message (Russian).
RENEWED_MARK = "ПОДПИСКА ПРОДЛЕНА"


def buttons(message: JsonDict) -> list[JsonDict]:
    """Every inline button under a message, flattened."""
    markup = message.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def button_data(message: JsonDict, prefix: str) -> str:
    """The callback data of the first button whose data starts with ``prefix``; AssertionError if none."""
    for b in buttons(message):
        if str(b.get("callback_data", "")).startswith(prefix):
            return str(b["callback_data"])
    raise AssertionError(f"no button {prefix!r} under: {message.get('text')!r}")


@dataclass
class Buyer:
    """One buyer (a Telegram user) in a chat with the sales bot."""

    tg: TelegramControl
    yk: YooKassaControl
    sales: BotInfo
    user: TgUser
    timeout: float = 30.0
    #: The newest sales bot message seen; ``expect`` waits for messages after it.
    last: int = 0
    steps: list[tuple[str, float]] = field(default_factory=list)
    order_id: str | None = None
    payment_id: str | None = None
    #: The message with the checkout link and "cancel" (set by ``checkout``).
    checkout_message: JsonDict = field(default_factory=dict)

    def _step(self, what: str) -> None:
        self.steps.append((what, time.monotonic()))

    async def say(self, text: str) -> JsonDict:
        """Write to the sales bot."""
        return await self.tg.send_message(self.sales, self.user, text)

    async def expect(self, contains: str | None = None, *, timeout: float | None = None) -> JsonDict:  # noqa: ASYNC109
        """The next sales bot message (containing ``contains``) after the last one seen."""
        message = await self.tg.wait_for_message(
            self.sales, self.user.id, contains=contains, after_message_id=self.last, timeout=timeout or self.timeout
        )
        self.last = max(self.last, int(message["message_id"]))
        return message

    async def expect_button(self, prefix: str, *, timeout: float | None = None) -> JsonDict:  # noqa: ASYNC109
        """Wait for the next messages until one carries a button with data ``prefix``."""
        while True:
            message = await self.expect(timeout=timeout)
            if any(str(b.get("callback_data", "")).startswith(prefix) for b in buttons(message)):
                return message

    async def tap(self, message: JsonDict, prefix: str) -> str:
        """Press the button with data ``prefix`` under ``message``; returns its data."""
        data = button_data(message, prefix)
        await self.tg.press_button(self.sales, self.user, int(message["message_id"]), data)
        return data

    async def start(self, tariff: str = "basic") -> None:
        """/start and pick a tariff; the sales bot then asks for the bot."""
        await self.say("/start")
        tariffs = await self.expect_button("s:t:")
        self._step("/start: tariffs shown")
        await self.tap(tariffs, f"s:t:{tariff}")
        await self.expect("@BotFather")
        self._step(f"tariff {tariff} picked; asked for a bot")

    async def one_tap_bot(self, username: str, name: str) -> CreatedManagedBot:
        """Tap "create a bot" (Telegram creates it); the sales bot then asks for the company name."""
        created = await self.tg.create_managed_bot(self.sales, self.user, username=username, name=name)
        await self.expect(f"@{created.username}")
        self._step(f"bot @{created.username} created in one tap")
        return created

    async def paste_token(self, token: str) -> JsonDict:
        """Choose "I have a token" and paste it; returns the user's message (which the bot deletes)."""
        await self.say("🔑 У меня есть токен")
        await self.expect("@BotFather")
        sent = await self.say(token)
        self._step("token pasted")
        return sent

    async def details(self, company: str, zone_button: int = 0) -> JsonDict:
        """Name the salon and pick a time zone button; returns the summary with "pay"."""
        await self.say(company)
        zones = await self.expect_button("s:z:")
        await self.tap(zones, f"s:z:{zone_button}")
        summary = await self.expect_button("s:p:")
        self.order_id = button_data(summary, "s:p:").removeprefix("s:p:")
        self._step("company and time zone given; summary shown")
        return summary

    async def checkout(self, summary: JsonDict) -> str:
        """Tap "pay"; returns the YooKassa payment id behind the checkout button."""
        await self.tap(summary, "s:p:")
        link = await self.expect_button("s:c:")
        assert any(b.get("url") for b in buttons(link)), "no checkout link"
        assert self.order_id is not None
        payments = await self.yk.wait_payment(order_id=self.order_id, timeout=self.timeout)
        self.payment_id = str(payments[0]["id"])
        self.checkout_message = link
        self._step("checkout link shown")
        return self.payment_id

    async def pay(self) -> float:
        """The buyer pays on the checkout page; returns the moment (monotonic) the payment succeeded."""
        assert self.payment_id is not None
        await self.yk.pay(self.payment_id)
        paid = time.monotonic()
        self._step("paid")
        return paid

    async def renew(self, message: JsonDict, tariff: str = "basic") -> str:
        """Tap "renew" under ``message`` (a reminder or /renew's list), pick a period; returns the payment id."""
        await self.tap(message, "s:w:")
        tariffs = await self.expect_button("s:x:")
        await self.tap(tariffs, f"s:x:{tariff}|")
        link = await self.expect_button("s:c:")
        assert any(b.get("url") for b in buttons(link)), "no checkout link"
        self.order_id = button_data(link, "s:c:").removeprefix("s:c:")
        payments = await self.yk.wait_payment(order_id=self.order_id, timeout=self.timeout)
        self.payment_id = str(payments[0]["id"])
        self.checkout_message = link
        self._step(f"renewal for {tariff}: checkout link shown")
        return self.payment_id

    async def ready(self, *, timeout: float | None = None) -> JsonDict:  # noqa: ASYNC109
        """Wait for "ready"."""
        message = await self.expect(READY_MARK, timeout=timeout)
        self._step("told ready")
        return message

    async def talk_to(self, bot: BotInfo | CreatedManagedBot | str, *, timeout: float | None = None) -> float:  # noqa: ASYNC109
        """Write /start to the new bot and wait for its first answer; returns the moment it arrived."""
        ref: Any = bot.username if isinstance(bot, CreatedManagedBot) else bot
        sent = await self.tg.send_message(ref, self.user, "/start")
        await self.tg.wait_for_message(ref, self.user.id, after_message_id=int(sent["message_id"]),
                                       timeout=timeout or self.timeout)
        answered = time.monotonic()
        self._step("the new bot answered /start")
        return answered
