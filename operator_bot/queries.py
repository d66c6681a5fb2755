"""What the operator bot reads from the control schema (``control.tenants``, ``control.orders``): read only.

Every query is a plain ``SELECT``, so the bot's database role needs nothing but read access to those two
tables (docs/operator.md). Inputs are validated before they get here and passed as parameters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from botpool.pool.model import TENANT_ID

#: A Telegram bot username as an operator types it, with or without the "@".
BOT_USERNAME = re.compile(r"^@?([A-Za-z][A-Za-z0-9_]{3,63})$")
#: Orders whose money came in (the buyer paid; activation may still be under way).
PAID_STATUSES = ("paid", "activating", "active")
PAGE_SIZE = 10


@dataclass(frozen=True)
class TenantLine:
    """One line of ``/tenants``."""

    tenant_id: str
    bot_username: str | None
    status: str
    paid_until: datetime


@dataclass(frozen=True)
class TenantCard:
    """What ``/tenant`` shows: the tenant's row and its order's plan."""

    tenant_id: str
    company_name: str
    bot_username: str | None
    status: str
    paid_until: datetime
    slot_index: int | None
    last_error: str | None
    tariff: str | None
    period_days: int | None


@dataclass(frozen=True)
class DayOrders:
    """Orders created today by status, and today's paid revenue by currency (minor units)."""

    by_status: dict[str, int]
    revenue: dict[str, int]
    paid_count: int


def parse_ref(text: str) -> tuple[str, str] | None:
    """``("id", "t_…")`` or ``("bot", "name")`` for what an operator typed; None if it is neither."""
    text = text.strip()
    if TENANT_ID.match(text):
        return "id", text
    match = BOT_USERNAME.match(text)
    if match and text.startswith("@"):
        return "bot", match.group(1)
    return None


async def tenants_page(db: asyncpg.Pool, page: int) -> tuple[list[TenantLine], int]:
    """One page of tenants, newest first, and how many there are in all."""
    total = int(await db.fetchval("SELECT count(*) FROM control.tenants"))
    rows = await db.fetch(
        "SELECT tenant_id, bot_username, status, paid_until FROM control.tenants "
        "ORDER BY created_at DESC, tenant_id LIMIT $1 OFFSET $2",
        PAGE_SIZE, max(page, 0) * PAGE_SIZE,
    )
    return [TenantLine(r["tenant_id"], r["bot_username"], r["status"], r["paid_until"]) for r in rows], total


async def tenant(db: asyncpg.Pool, kind: str, value: str) -> TenantCard | None:
    """The tenant with this id, or the live (else latest) tenant of this bot username; None if none."""
    where = "t.tenant_id = $1" if kind == "id" else "lower(ltrim(t.bot_username, '@')) = lower($1)"
    row = await db.fetchrow(
        "SELECT t.tenant_id, t.company_name, t.bot_username, t.status, t.paid_until, t.slot_index, t.last_error, "
        "o.tariff, o.period_days FROM control.tenants t LEFT JOIN control.orders o USING (tenant_id) "
        f"WHERE {where} ORDER BY (t.status <> 'released') DESC, t.created_at DESC LIMIT 1",
        value,
    )
    if row is None:
        return None
    return TenantCard(**dict(row))


async def today(db: asyncpg.Pool, zone: ZoneInfo, now: datetime) -> DayOrders:
    """Orders created since midnight in the business zone, and the money paid since then."""
    local = now.astimezone(zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = start + timedelta(days=1)
    by_status = {
        r["status"]: int(r["n"]) for r in await db.fetch(
            "SELECT status, count(*) AS n FROM control.orders WHERE created_at >= $1 AND created_at < $2 "
            "GROUP BY status", start, end,
        )
    }
    rows = await db.fetch(
        "SELECT currency, sum(amount_kopecks) AS total, count(*) AS n FROM control.orders "
        "WHERE status = ANY($3::text[]) AND paid_at >= $1 AND paid_at < $2 GROUP BY currency",
        start, end, list(PAID_STATUSES),
    )
    return DayOrders(
        by_status, {r["currency"]: int(r["total"]) for r in rows}, sum(int(r["n"]) for r in rows)
    )
