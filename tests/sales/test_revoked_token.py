"""A pasted bot whose owner revokes its token in @BotFather: the buyer is told, sends a new token, the bot is back.

What a salon owner does after a leak, or after our own theft notice asks them to:
/revoke in BotFather. Telegram then refuses the old token, the running bot cannot
poll any more, and the owner must be able to hand over the new token in the sales
bot without paying again; the bot then answers clients with the salon's data.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from devstack.buyer import Buyer
from tests.fixtures.telegram import TelegramStandin
from tests.pool.conftest import Pool, reconciler  # noqa: F401 - fixture, used by name
from tests.sales.conftest import SalesBot
from tests.sales.support import buy_with_pasted_token, order_row


async def test_a_revoked_pasted_token_is_replaced_through_token_and_the_bot_answers_again(  # type: ignore[no-untyped-def]
    pool: Pool, sales_bot: SalesBot, new_buyer, db: asyncpg.Pool, unique: str, telegram_standin: TelegramStandin,
    reconciler: Path,  # noqa: F811 - what tries the tenant elsewhere once its slot reports the token refused
) -> None:
    buyer: Buyer = new_buyer()
    own = await buy_with_pasted_token(buyer, f"revoked_{unique}_bot", "Салон Ирины")
    await buyer.talk_to(own.username)

    fresh = await telegram_standin.control.rotate_token(own)  # the owner's /revoke in @BotFather
    told = await buyer.expect("больше не принимает", timeout=120)
    assert f"@{own.username}" in told["text"] and "/token" in told["text"]
    assert buyer.order_id is not None
    assert (await order_row(db, buyer.order_id))["status"] == "failed"

    await buyer.say("/token")
    await buyer.expect(f"@{own.username}")
    await buyer.say(fresh.token)
    await buyer.expect("Токен принят")
    again = await buyer.ready(timeout=120)
    assert f"@{own.username}" in again["text"]
    await buyer.talk_to(own.username)
    assert (await order_row(db, buyer.order_id))["status"] == "active"
