"""Clients: who writes to the bot, plus people the owner books by phone.

Why the per-update ``touch`` query does three things at once: every update
needs the client's row, the booking rules and whether the sender is an admin;
one round trip keeps a booking step well inside its latency budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from bot_runtime.booking.storage.settings import SETTINGS_COLUMNS, Settings
from bot_runtime.booking.storage.types import Conn


@dataclass(frozen=True)
class Client:
    """A client card's identity part."""

    id: int
    telegram_id: int | None
    name: str
    username: str | None
    phone: str | None
    notes: str
    language: str | None
    blacklisted: bool


@dataclass(frozen=True)
class Touch:
    """What the context middleware learns about the sender in one query."""

    client_id: int
    language: str | None
    blacklisted: bool
    is_admin_row: bool
    settings: Settings


_TOUCH = f"""
WITH ins AS (
    INSERT INTO clients AS c (telegram_id, name, username) VALUES ($1, $2, $3)
    ON CONFLICT (telegram_id) DO UPDATE SET username = EXCLUDED.username, blocked_bot = false
        WHERE c.username IS DISTINCT FROM EXCLUDED.username OR c.blocked_bot
    RETURNING c.id, c.language, c.blacklisted
), cur AS (
    (SELECT id, language, blacklisted FROM ins
     UNION ALL
     SELECT id, language, blacklisted FROM clients WHERE telegram_id = $1)
    LIMIT 1
)
SELECT cur.id, cur.language, cur.blacklisted,
       EXISTS (SELECT 1 FROM admins WHERE telegram_id = $1) AS is_admin_row,
       {SETTINGS_COLUMNS}
FROM cur, settings
"""


async def touch(conn: Conn, telegram_id: int, name: str, username: str | None) -> Touch:
    """Register or refresh the sender and return their context for this update."""
    row = await conn.fetchrow(_TOUCH, telegram_id, name[:64], username)
    assert row is not None
    return Touch(row["id"], row["language"], row["blacklisted"], row["is_admin_row"], Settings.from_record(row))


CLIENT_COLUMNS = "id, telegram_id, name, username, phone, notes, language, blacklisted"


def _client(row: asyncpg.Record) -> Client:
    return Client(
        row["id"],
        row["telegram_id"],
        row["name"],
        row["username"],
        row["phone"],
        row["notes"],
        row["language"],
        row["blacklisted"],
    )


async def get(conn: Conn, client_id: int) -> Client | None:
    """Return one client, or None."""
    row = await conn.fetchrow(f"SELECT {CLIENT_COLUMNS} FROM clients WHERE id = $1", client_id)
    return _client(row) if row else None


async def set_language(conn: Conn, client_id: int, language: str) -> None:
    """Remember the client's chosen language."""
    await conn.execute("UPDATE clients SET language = $2 WHERE id = $1", client_id, language)


async def set_phone(conn: Conn, client_id: int, phone: str | None) -> None:
    """Set or clear a client's phone."""
    await conn.execute("UPDATE clients SET phone = $2 WHERE id = $1", client_id, phone)


async def set_notes(conn: Conn, client_id: int, notes: str) -> None:
    """Replace the owner's notes about a client."""
    await conn.execute("UPDATE clients SET notes = $2 WHERE id = $1", client_id, notes)


async def set_blacklisted(conn: Conn, client_id: int, value: bool) -> None:
    """Block or unblock a client from booking through the bot."""
    await conn.execute("UPDATE clients SET blacklisted = $2 WHERE id = $1", client_id, value)


async def mark_blocked_bot(conn: Conn, telegram_id: int) -> None:
    """Remember that a client blocked the bot, so broadcasts skip them until they write again."""
    await conn.execute("UPDATE clients SET blocked_bot = true WHERE telegram_id = $1", telegram_id)


async def find_or_create_offline(conn: Conn, name: str, phone: str | None) -> int:
    """Return the client with ``phone`` (creating one without Telegram), for manual bookings."""
    if phone:
        existing = await conn.fetchval("SELECT id FROM clients WHERE phone = $1 ORDER BY id LIMIT 1", phone)
        if existing is not None:
            return int(existing)
    return int(
        await conn.fetchval(
            "INSERT INTO clients (name, phone) VALUES ($1, $2) RETURNING id", name or (phone or "?"), phone
        )
    )


async def search(conn: Conn, query: str, limit: int = 10) -> list[Client]:
    """Find clients by part of the name, @username or phone digits."""
    pattern = "%" + query.strip().lstrip("@").replace("%", "").replace("_", "") + "%"
    digits = "".join(ch for ch in query if ch.isdigit())
    rows = await conn.fetch(
        f"SELECT {CLIENT_COLUMNS} FROM clients WHERE name ILIKE $1 OR username ILIKE $1"
        " OR ($2 <> '' AND phone LIKE '%' || $2 || '%') ORDER BY name, id LIMIT $3",
        pattern,
        digits,
        limit,
    )
    return [_client(r) for r in rows]


async def recent(conn: Conn, limit: int = 10) -> list[Client]:
    """Return the clients with the latest bookings, the ones an owner usually looks up."""
    rows = await conn.fetch(
        f"SELECT {CLIENT_COLUMNS} FROM clients c JOIN LATERAL ("
        " SELECT max(starts_at) AS last FROM bookings b WHERE b.client_id = c.id) l ON l.last IS NOT NULL"
        " ORDER BY l.last DESC LIMIT $1",
        limit,
    )
    return [_client(r) for r in rows]


@dataclass(frozen=True)
class ClientStats:
    """Totals on a client card."""

    visits: int
    upcoming: int
    cancelled: int
    no_shows: int
    spent: Decimal


async def stats(conn: Conn, client_id: int, now: datetime) -> ClientStats:
    """Return visit counts and money spent for one client in one query."""
    row = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE status = 'confirmed' AND starts_at <= $2) AS visits,"
        " count(*) FILTER (WHERE status IN ('pending', 'confirmed') AND starts_at > $2) AS upcoming,"
        " count(*) FILTER (WHERE status = 'cancelled') AS cancelled,"
        " count(*) FILTER (WHERE status = 'no_show') AS no_shows,"
        " coalesce(sum(price) FILTER (WHERE status = 'confirmed' AND starts_at <= $2), 0) AS spent"
        " FROM bookings WHERE client_id = $1",
        client_id,
        now,
    )
    assert row is not None
    return ClientStats(row["visits"], row["upcoming"], row["cancelled"], row["no_shows"], row["spent"])


async def admin_ids(conn: Conn) -> list[int]:
    """Return the Telegram ids of admins added by the owner."""
    return [r["telegram_id"] for r in await conn.fetch("SELECT telegram_id FROM admins ORDER BY added_at")]


async def admins_with_languages(conn: Conn, owner: int) -> list[tuple[int, str | None]]:
    """Return the owner and every added admin (owner first, no repeats) with their chosen language."""
    rows = await conn.fetch(
        "SELECT t.id, c.language FROM unnest(ARRAY[$1::bigint] || ARRAY(SELECT telegram_id FROM admins"
        " WHERE telegram_id <> $1 ORDER BY added_at)) WITH ORDINALITY AS t(id, n)"
        " LEFT JOIN clients c ON c.telegram_id = t.id ORDER BY t.n",
        owner,
    )
    return [(r["id"], r["language"]) for r in rows]


async def add_admin(conn: Conn, telegram_id: int, added_by: int) -> bool:
    """Add an admin; returns False when already one."""
    status = await conn.execute(
        "INSERT INTO admins (telegram_id, added_by) VALUES ($1, $2) ON CONFLICT DO NOTHING", telegram_id, added_by
    )
    return status.endswith(" 1")


async def remove_admin(conn: Conn, telegram_id: int) -> bool:
    """Remove an added admin (the owner cannot be removed: they are not in this table)."""
    return (await conn.execute("DELETE FROM admins WHERE telegram_id = $1", telegram_id)).endswith(" 1")


async def languages(conn: Conn, telegram_ids: list[int]) -> dict[int, str | None]:
    """Return the chosen language of each of ``telegram_ids`` that is a known client."""
    rows = await conn.fetch(
        "SELECT telegram_id, language FROM clients WHERE telegram_id = ANY($1::bigint[])", telegram_ids
    )
    return {r["telegram_id"]: r["language"] for r in rows}
