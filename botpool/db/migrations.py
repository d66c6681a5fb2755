"""Forward-only SQL migrations, applied idempotently per PostgreSQL schema.

Why our own runner instead of Alembic: every tenant gets its own schema and
the same migrations must be applied to hundreds of schemas from inside the bot
runtime at activation time, in a transaction, under an advisory lock, with no
ORM and no separate CLI process. That is forty lines of code; Alembic's
multi-schema support would be more.

Migrations are ``NNNN_name.sql`` files inside a Python package directory. Each
runs once per schema, inside a transaction, with ``search_path`` set to that
schema; the applied versions are recorded in ``<schema>.schema_migrations``.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import re
from dataclasses import dataclass

import asyncpg  # noqa: F401

from botpool.db import Conn

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Migration:
    """One migration file: its version orders it, its checksum detects edits after release."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def quote_ident(name: str) -> str:
    """Return a safe SQL identifier; only lower-case names we generate are allowed."""
    if not _IDENT.match(name):
        raise ValueError(f"not a valid schema/role identifier: {name!r}")
    return f'"{name}"'


def load(package: str, directory: str = "migrations") -> list[Migration]:
    """Read every ``NNNN_name.sql`` from a package directory, ordered by version."""
    root = importlib.resources.files(package).joinpath(directory)
    found: list[Migration] = []
    for entry in root.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {package}/{directory}")
    return found


async def apply(
    conn: Conn, schema: str, migrations: list[Migration]
) -> list[str]:
    """Apply the migrations ``schema`` lacks and return the names applied.

    Safe to call concurrently from several processes: an advisory lock keyed by
    the schema name serialises them, and each migration commits with its record.
    """
    ident = quote_ident(schema)
    applied_now: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"migrate:{schema}")
        # CREATE SCHEMA IF NOT EXISTS checks the database-level CREATE privilege first, which a
        # tenant role (owner of its existing schema, nothing more) does not have.
        if not await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f"CREATE SCHEMA {ident}")
        await conn.execute(
            f"CREATE TABLE IF NOT EXISTS {ident}.schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        rows = await conn.fetch(f"SELECT version, checksum FROM {ident}.schema_migrations")
        done = {r["version"]: r["checksum"] for r in rows}
        await conn.execute(f"SET LOCAL search_path TO {ident}, public")
        for migration in migrations:
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise RuntimeError(f"migration {migration.name} changed after it was applied to {schema}")
                continue
            await conn.execute(migration.sql)
            await conn.execute(
                f"INSERT INTO {ident}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                migration.checksum,
            )
            applied_now.append(migration.name)
    return applied_now
