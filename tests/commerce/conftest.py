"""Fixtures of the commerce tests: real PostgreSQL (a fresh schema per test), the YooKassa stand-in with a
fresh shop per test, and the real notification endpoint served on 127.0.0.1 with only 127.0.0.1 trusted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest_asyncio
from aiohttp import web
from consul.aio import Consul

from botpool.commerce import notifications
from botpool.commerce.ledger import Ledger
from botpool.commerce.orders import Order, OrderStore
from botpool.commerce.payments import Outcome, Payments
from botpool.commerce.tariffs import DEFAULT_TARIFFS
from botpool.commerce.yookassa import LOCAL_NETWORKS, RemotePayment, TrustedNetworks, YooKassaGateway, YooKassaSettings
from devstack.standins.yookassa.client import ShopInfo
from tests.fixtures.stack import PostgresHandle
from tests.fixtures.yookassa import YooKassaStandin

BASIC = DEFAULT_TARIFFS[0]


class RecordingPayments(Payments):
    """``Payments`` that keeps every outcome its callers saw: what a bot that tells buyers would act on."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        """As ``Payments``, with an empty record."""
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.outcomes: list[Outcome] = []

    async def apply(self, remote: RemotePayment) -> Outcome:
        """Apply and remember the outcome."""
        outcome = await super().apply(remote)
        self.outcomes.append(outcome)
        return outcome


@dataclass
class Shop:
    """Everything a commerce test touches: stores, gateway, payments service, the endpoint and the stand-in."""

    orders: OrderStore
    ledger: Ledger
    gateway: YooKassaGateway
    payments: RecordingPayments
    standin: YooKassaStandin
    info: ShopInfo
    endpoint_url: str
    fulfilled: list[str] = field(default_factory=list)
    fulfilment_started: asyncio.Event = field(default_factory=asyncio.Event)

    async def order(self, buyer: int, *, complete: bool = True) -> Order:
        """A fresh order for ``buyer`` (basic tariff), with the details filled in unless told otherwise."""
        order, created = await self.orders.open_order(buyer, BASIC)
        assert created
        if complete:
            assert await self.orders.set_details(
                order.order_id, company_name="Салон Анны", timezone="Europe/Moscow", bot_id=buyer + 1,
                bot_username="anna_salon_bot", bot_source="managed",
            )
        fresh = await self.orders.get(order.order_id)
        assert fresh is not None
        return fresh


@pytest_asyncio.fixture
async def db(postgres: PostgresHandle) -> AsyncIterator[asyncpg.Pool]:
    """A small connection pool to the test database."""
    pool = await asyncpg.create_pool(postgres.dsn, min_size=1, max_size=6)
    assert pool is not None
    try:
        yield pool
    finally:
        await pool.close()


@pytest_asyncio.fixture
async def shop(
    db: asyncpg.Pool, pg_schema: str, yookassa_standin: YooKassaStandin, consul: Consul
) -> AsyncIterator[Shop]:
    """A migrated schema, a stand-in shop whose notifications reach the real endpoint, and the services."""
    orders = OrderStore(db, pg_schema)
    await orders.migrate()
    ledger = Ledger(db, pg_schema)
    info = await yookassa_standin.control.create_shop()
    settings = YooKassaSettings(
        YOOKASSA_SHOP_ID=info.shop_id, YOOKASSA_SECRET_KEY=info.secret_key, YOOKASSA_API_URL=yookassa_standin.api_url,
        YOOKASSA_RETURN_URL="https://t.me/botpool_sales_bot", YOOKASSA_TRUSTED_NETWORKS=",".join(LOCAL_NETWORKS),
    )
    gateway = YooKassaGateway(settings)
    fulfilled: list[str] = []
    started = asyncio.Event()

    async def on_paid(order: Order) -> None:
        # What the sales bot's fulfiller does first: claim the activation; only the winner activates.
        if await orders.start_activation(order.order_id):
            fulfilled.append(order.order_id)
            started.set()

    payments = RecordingPayments(orders, ledger, gateway, consul=consul, on_paid=on_paid)
    app = notifications.notification_app(payments, TrustedNetworks(settings.trusted_networks))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}{notifications.DEFAULT_PATH}"
    info = await yookassa_standin.control.create_shop(shop_id=info.shop_id, notification_url=url)
    try:
        yield Shop(orders, ledger, gateway, payments, yookassa_standin, info, url, fulfilled, started)
    finally:
        await payments.wait_fulfilments()
        await yookassa_standin.control.create_shop(shop_id=info.shop_id, notification_url="")
        await runner.cleanup()
