"""The control database keeps every writer to the spec's bounds, and says so in one sentence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from botpool.errors import InvalidTenantSpec
from botpool.tenancy import store
from tests.fixtures.stack import PostgresHandle


async def test_a_writer_that_skips_the_spec_gets_a_sentence_not_a_database_error(postgres: PostgresHandle) -> None:
    conn = await asyncpg.connect(postgres.dsn)
    try:
        await store.migrate(conn)
        tenant_id = f"t_{uuid.uuid4().hex[:12]}"
        paid_until = datetime.now(UTC) + timedelta(days=1)

        async def upsert(company_name: str) -> store.TenantRecord:
            return await store.upsert(
                conn, tenant_id=tenant_id, company_name=company_name, admin_telegram_id=7, bot_id=7_100_000_001,
                paid_until=paid_until, timezone="Europe/Moscow", language="ru",
            )

        with pytest.raises(InvalidTenantSpec) as caught:
            await upsert("x" * 129)
        assert caught.value.code == "company_name_rejected"
        assert str(caught.value) == "The company name was refused by the control database."
        assert await conn.fetchval("SELECT count(*) FROM control.tenants WHERE tenant_id = $1", tenant_id) == 0
        record = await upsert("x" * 128)
        assert len(record.company_name) == 128
        await conn.execute("DELETE FROM control.tenants WHERE tenant_id = $1", tenant_id)
    finally:
        await conn.close()
