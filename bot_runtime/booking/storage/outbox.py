"""Durable outgoing messages and reminder rows: claimed with SKIP LOCKED, marked once.

Why through the database: an owner alert, a "your booking was cancelled"
notice, a broadcast or a reminder must neither be lost when the process
stops nor sent twice when a second process (the bot moved to another slot)
runs the same worker. Each row is claimed with ``FOR UPDATE SKIP LOCKED`` in
its own transaction, sent, and marked sent in that same transaction; a
parallel worker skips the locked row and later sees it marked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot_runtime.booking.storage.types import Conn, Tx


@dataclass(frozen=True)
class OutMessage:
    """A message to enqueue: chat, text and an optional inline keyboard (Bot API JSON)."""

    chat_id: int
    text: str
    markup: dict[str, Any] | None = None


async def enqueue(conn: Conn, messages: Sequence[OutMessage]) -> list[int]:
    """Store messages to send and return their ids; call inside the transaction that causes them."""
    if not messages:
        return []
    rows = await conn.fetch(
        "INSERT INTO outbox (chat_id, text, markup)"
        " SELECT * FROM unnest($1::bigint[], $2::text[], $3::jsonb[]) RETURNING id",
        [m.chat_id for m in messages],
        [m.text for m in messages],
        [json.dumps(m.markup) if m.markup is not None else None for m in messages],
    )
    return [r["id"] for r in rows]


async def enqueue_broadcast(conn: Conn, text: str) -> int:
    """Queue ``text`` for every client who uses the bot and has not blocked it; return the count."""
    status = await conn.execute(
        "INSERT INTO outbox (chat_id, text) SELECT telegram_id, $1 FROM clients"
        " WHERE telegram_id IS NOT NULL AND NOT blocked_bot ORDER BY id",
        text,
    )
    return int(status.split()[-1])


@dataclass(frozen=True)
class ClaimedMessage:
    """An outbox row locked by the current transaction."""

    id: int
    chat_id: int
    text: str
    markup: dict[str, Any] | None


async def claim_message(conn: Tx, message_id: int | None = None) -> ClaimedMessage | None:
    """Lock one unsent message (a given one, or the oldest); None when none is free."""
    row = await conn.fetchrow(
        "SELECT id, chat_id, text, markup FROM outbox WHERE sent_at IS NULL"
        " AND ($1::bigint IS NULL OR id = $1) ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
        message_id,
    )
    if row is None:
        return None
    markup = json.loads(row["markup"]) if row["markup"] is not None else None
    return ClaimedMessage(row["id"], row["chat_id"], row["text"], markup)


async def mark_message(conn: Tx, message_id: int, outcome: str, now: datetime) -> None:
    """Record that a claimed message was sent (or failed for good)."""
    await conn.execute("UPDATE outbox SET sent_at = $2, outcome = $3 WHERE id = $1", message_id, now, outcome)


@dataclass(frozen=True)
class ClaimedReminder:
    """A due reminder locked by the current transaction, with what its text needs."""

    id: int
    booking_id: int
    kind: str
    offset_min: int
    due_at: datetime
    status: str
    starts_at: datetime
    title: str
    master_name: str
    chat_id: int | None
    language: str | None
    rating: int | None


async def claim_reminder(conn: Tx, now: datetime) -> ClaimedReminder | None:
    """Lock the oldest due unsent reminder no other worker holds; None when nothing is due."""
    row = await conn.fetchrow(
        "SELECT r.id, r.booking_id, r.kind, r.offset_min, r.due_at, b.status, b.starts_at, b.title,"
        " m.name AS master_name, c.telegram_id, c.language, b.rating"
        " FROM reminders r JOIN bookings b ON b.id = r.booking_id JOIN masters m ON m.id = b.master_id"
        " LEFT JOIN clients c ON c.id = b.client_id"
        " WHERE r.sent_at IS NULL AND r.due_at <= $1 ORDER BY r.due_at LIMIT 1 FOR UPDATE OF r SKIP LOCKED",
        now,
    )
    if row is None:
        return None
    return ClaimedReminder(
        row["id"],
        row["booking_id"],
        row["kind"],
        row["offset_min"],
        row["due_at"],
        row["status"],
        row["starts_at"],
        row["title"],
        row["master_name"],
        row["telegram_id"],
        row["language"],
        row["rating"],
    )


async def mark_reminder(conn: Tx, reminder_id: int, outcome: str, now: datetime) -> None:
    """Record the fate of a claimed reminder; it is never claimed again."""
    await conn.execute("UPDATE reminders SET sent_at = $2, outcome = $3 WHERE id = $1", reminder_id, now, outcome)
