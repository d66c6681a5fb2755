"""PostgreSQL schema-per-tenant isolation with a role per tenant works on the real server."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from tests.fixtures.stack import PostgresHandle


async def test_role_uses_only_its_own_schema(postgres: PostgresHandle) -> None:
    admin = await asyncpg.connect(postgres.dsn)
    a, b = f"smoke_a_{uuid.uuid4().hex[:8]}", f"smoke_b_{uuid.uuid4().hex[:8]}"
    try:
        for name in (a, b):
            await admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'pw-{name}'")
            # Explicit: once botpool has prepared the database, PUBLIC no longer has CONNECT on it.
            await admin.execute(f"GRANT CONNECT ON DATABASE botpool TO {name}")
            await admin.execute(f"CREATE SCHEMA {name} AUTHORIZATION {name}")
            await admin.execute(f"REVOKE ALL ON SCHEMA {name} FROM PUBLIC")
        await admin.execute(f"CREATE TABLE {b}.secrets (v text)")
        await admin.execute(f"ALTER TABLE {b}.secrets OWNER TO {b}")
        await admin.execute(f"INSERT INTO {b}.secrets VALUES ('b-only')")

        as_a = await asyncpg.connect(
            host=postgres.host, port=postgres.port, user=a, password=f"pw-{a}", database="botpool",
            server_settings={"search_path": a},
        )
        try:
            await as_a.execute("CREATE TABLE notes (v text)")
            await as_a.execute("INSERT INTO notes VALUES ('mine')")
            assert await as_a.fetchval("SELECT v FROM notes") == "mine"
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await as_a.fetch(f"SELECT * FROM {b}.secrets")
        finally:
            await as_a.close()
    finally:
        for name in (a, b):
            await admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
            await admin.execute(f"DROP OWNED BY {name}")
            await admin.execute(f"DROP ROLE IF EXISTS {name}")
        await admin.close()
