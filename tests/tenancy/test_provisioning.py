"""Provisioning on the real Vault, PostgreSQL and Redis: repeatable, and repaired from Vault after a crash."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import hvac
import pytest
import redis.asyncio as aioredis
import redis.exceptions
from pydantic import SecretStr

from botpool.clients import vault as vault_client
from botpool.errors import TenantSecretMissing
from botpool.tenancy import provision
from botpool.tenancy.activation import Activator, TenantSpec
from botpool.tenancy.package import TenantPackage, secret_path
from tests.fixtures.stack import PostgresHandle, RedisHandle


def new_spec() -> TenantSpec:
    return TenantSpec(
        tenant_id=f"t_{uuid.uuid4().hex[:12]}", bot_token=SecretStr(f"{uuid.uuid4().int % 10**9 + 10**8}:" + "A" * 35),
        admin_telegram_id=42, company_name="Provisioned Salon", paid_until=datetime.now(UTC) + timedelta(days=30),
    )


def stored_secret(root_vault: hvac.Client, tenant_id: str) -> dict[str, Any]:
    response = root_vault.secrets.kv.v2.read_secret_version(
        path=secret_path(tenant_id), mount_point="secret", raise_on_deleted_version=False
    )
    data: dict[str, Any] = response["data"]["data"]
    return data


async def can_log_in(postgres: PostgresHandle, redis_server: RedisHandle, secret: dict[str, Any]) -> bool:
    """Whether a slot holding ``secret`` could reach the tenant's schema and Redis keys."""
    tenant_id = secret["tenant_id"]
    try:
        conn = await asyncpg.connect(host=postgres.host, port=postgres.port, database="botpool", user=tenant_id,
                                     password=secret["db_password"])
        await conn.close()
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
        return False
    client = aioredis.Redis(host=redis_server.host, port=redis_server.port, username=tenant_id,
                            password=secret["redis_password"])
    try:
        await client.set(f"{tenant_id}:probe", "1")
    except redis.exceptions.AuthenticationError:
        return False
    finally:
        await client.aclose()
    return True


async def test_provisioning_again_keeps_the_credentials_a_running_bot_uses(
    activator: Activator, root_vault: hvac.Client, postgres: PostgresHandle, redis_server: RedisHandle
) -> None:
    spec = new_spec()
    await activator.provision(spec)
    first = stored_secret(root_vault, spec.tenant_id)
    await activator.provision(spec)  # a renewal, or the sales bot resuming after a crash
    assert await can_log_in(postgres, redis_server, first), "the running bot's credentials still work"
    assert stored_secret(root_vault, spec.tenant_id)["db_password"] == first["db_password"]


async def test_a_crash_between_vault_and_the_databases_is_repaired_from_vault(
    activator: Activator, root_vault: hvac.Client, postgres: PostgresHandle, redis_server: RedisHandle
) -> None:
    spec = new_spec()
    # What a crash right after the first step leaves: Vault holds credentials no database has seen.
    package = TenantPackage(
        tenant_id=spec.tenant_id, bot_token=spec.bot_token, db_password=SecretStr(provision.new_password()),
        redis_password=SecretStr(provision.new_password()), admin_telegram_id=42, company_name=spec.company_name,
    )
    await asyncio.to_thread(
        vault_client.write_kv, activator.vault, activator.kv_mount, secret_path(spec.tenant_id), package.to_vault()
    )
    secret = stored_secret(root_vault, spec.tenant_id)
    assert not await can_log_in(postgres, redis_server, secret)
    await activator.restore_credentials(spec.tenant_id)
    assert await can_log_in(postgres, redis_server, secret)
    await activator.restore_credentials(spec.tenant_id)  # repeatable
    assert await can_log_in(postgres, redis_server, secret)


async def test_a_tenant_without_a_secret_in_vault_is_named_as_such(activator: Activator) -> None:
    with pytest.raises(TenantSecretMissing, match="missing from Vault"):
        await activator.restore_credentials(f"t_{uuid.uuid4().hex[:12]}")
