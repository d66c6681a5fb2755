"""Fixtures for the purchase tests: the real pool job, both stand-ins, and the sales bot as a real process.

The sales bot runs as ``python -m sales_bot`` (what the Nomad job runs), with its own Vault token
(token role botpool-sales-bot: the activator policy), against a YooKassa shop whose notifications come
to its endpoint from 127.0.0.1 (the only trusted address here, so a test can play a stranger from
127.0.0.2). Tests kill it with SIGKILL and start it again to check that nothing is lost.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from botpool import jobspec, wiring
from botpool import settings as cfg
from botpool.pool import protocol
from devstack import ports
from devstack.buyer import Buyer
from devstack.sales import SalesProcess
from devstack.sales import activator_token as role_token
from devstack.stack import Stack
from devstack.standins.telegram.client import BotInfo, TgUser
from devstack.standins.yookassa.client import ShopInfo
from tests.fixtures.stack import PostgresHandle
from tests.fixtures.telegram import TelegramStandin
from tests.fixtures.yookassa import YooKassaStandin
from tests.pool.conftest import Pool, _purge, activator, activator_token, control_env, root_vault, slot_env  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]


class SalesBot(SalesProcess):
    """The sales bot process of the purchase tests, with its bot and YooKassa shop."""

    def __init__(self, env: dict[str, str], info: BotInfo, shop: ShopInfo, log_dir: Path, notify_port: int) -> None:
        """Keep the bot and shop next to the process settings."""
        super().__init__(env, log_dir, notify_port)
        self.info = info
        self.shop = shop


@pytest.fixture(scope="package")
async def pool(stack: Stack, slot_env: dict[str, str]) -> AsyncIterator[Pool]:  # noqa: F811
    """The real pool job with 6 waiting slots, shared by every purchase test (tests grow it as they need)."""
    env = stack.env()
    async with wiring.nomad(cfg.load(cfg.NomadSettings, env)) as nomad, wiring.consul(
        cfg.load(cfg.ConsulSettings, env)
    ) as consul:
        await _purge(nomad, consul)
        await jobspec.submit_pool(nomad, count=6, env=slot_env)
        await protocol.wait_until(consul, lambda s: len(s.free()) >= 6, timeout_s=400)
        yield Pool(nomad, consul, slot_env, stack.root)
        await _purge(nomad, consul)


@pytest.fixture(scope="package")
async def sales_bot(
    stack: Stack, telegram_standin: TelegramStandin,
    yookassa_standin: YooKassaStandin, tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[SalesBot]:
    """The sales bot (a bot with bot management enabled), its YooKassa shop and its running process."""
    suffix = uuid.uuid4().hex[:6]
    info = await telegram_standin.control.create_bot(f"sales_{suffix}_bot", can_manage_bots=True)
    port = ports.pick()
    notify_url = f"http://127.0.0.1:{port}/yookassa/notifications"
    shop = await yookassa_standin.control.create_shop(notification_url=notify_url, source_address="127.0.0.1")
    env = dict(os.environ)
    env.update(stack.role_env("sales-bot"))  # the sales bot's own Consul token, no Nomad token
    env.update({
        "VAULT_TOKEN": role_token(stack),  # the sales bot's own role token, as `botpool up` gives it
        "SALES_BOT_TOKEN": info.token,
        "TELEGRAM_API_BASE": telegram_standin.base_url,
        "SALES_NOTIFY_PORT": str(port),
        "SALES_WATCH_INTERVAL_S": "0.5",
        "SALES_POOL_WAIT_S": "120",
        "YOOKASSA_SHOP_ID": shop.shop_id,
        "YOOKASSA_SECRET_KEY": shop.secret_key,
        "YOOKASSA_API_URL": yookassa_standin.api_url,
        "YOOKASSA_RETURN_URL": "https://t.me/" + info.username,
        "YOOKASSA_TRUSTED_NETWORKS": "127.0.0.1/32",
        "YOOKASSA_PENDING_CHECK_S": "2",
        "PYTHONPATH": str(ROOT),
    })
    bot = SalesBot(env, info, shop, tmp_path_factory.mktemp("sales-bot"), port)
    await bot.start()
    try:
        yield bot
    finally:
        bot.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Purchases run whole flows against real slots on a shared machine: give each test 15 minutes."""
    for item in items:
        if "tests/sales/" in str(item.path):
            item.add_marker(pytest.mark.timeout(900))


@pytest.fixture(autouse=True)
async def room(pool: Pool) -> None:
    """Free slots for the test's purchases (what the scaler keeps; slow to start on a busy machine)."""
    await pool.scale_to_free(2, timeout_s=600)


_users = iter(range(7_100_000, 7_999_999))


@pytest.fixture
def new_buyer(sales_bot: SalesBot, telegram_standin: TelegramStandin, yookassa_standin: YooKassaStandin):  # type: ignore[no-untyped-def]
    """A factory of buyers, each a fresh Telegram user."""

    def make(language: str = "ru") -> Buyer:
        user_id = next(_users)
        user = TgUser(id=user_id, first_name=f"Buyer{user_id}", language_code=language)
        return Buyer(telegram_standin.control, yookassa_standin.control, sales_bot.info, user, timeout=90)

    return make


@pytest.fixture
async def db(postgres: PostgresHandle) -> AsyncIterator[asyncpg.Pool]:
    """The control database, to check what was (and was not) stored."""
    pool_ = await asyncpg.create_pool(postgres.dsn, min_size=1, max_size=2)
    try:
        yield pool_
    finally:
        await pool_.close()


@pytest.fixture
def unique() -> str:
    """A short unique suffix for bot usernames."""
    return uuid.uuid4().hex[:8]
