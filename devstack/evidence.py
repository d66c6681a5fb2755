"""What the stack's own records say is wrong, for a fault report: the pool's inconsistencies, and why a
tenant stopped answering.

``pool_problems`` lists what is inconsistent in the pool's records (the rig waits until there is nothing).

The fault rig (``devstack.faults``) counts an acknowledged tenant whose bot no
longer greets a client as lost. A count alone sends the reader to a dozen log
files; this gathers, in one line, what each source says about that tenant:
the load's own history of it, its stored status, its pool records, the lines
naming it in every slot's log, and whether the Telegram stand-in sees its bot
polling. Whatever cannot be read is said so; gathering never fails the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import asyncpg
from consul.aio import Consul

from botpool.pool import protocol
from botpool.pool.model import ClaimKind
from botpool.tenancy import store
from devstack.load import Tenant
from devstack.standins.telegram.client import TelegramControl

#: Nomad's log files of a slot task (not the FIFOs beside them, which would block a reader).
SLOT_LOGS = "nomad*/data/alloc/*/alloc/logs/slot.std*.[0-9]*"


async def explain(
    tenant: Tenant, *, checked_at: float, dsn: str, consul: Consul, control: TelegramControl, state_root: Path,
    history: dict[str, list[str]],
) -> str:
    """One line of evidence on ``tenant``; times are monotonic seconds, as in the load's ``history``."""
    parts = [f"checked at {checked_at:.1f}, now {time.monotonic():.1f}", *history.get(tenant.tenant_id, [])]
    try:
        parts += await _stored(dsn, tenant.tenant_id)
        parts += await _pooled(consul, tenant.tenant_id)
        parts += await asyncio.to_thread(slot_log_lines, state_root, tenant.tenant_id)
        info = await control.bot_info(tenant.bot)
        parts.append(f"bot polling {info.get('polling')} last poll {info.get('last_poll_at')} "
                     f"pending {info.get('pending_update_count')}")
    except Exception as exc:  # the report must still be written; say what could not be read
        parts.append(f"evidence cut short: {exc!r}"[:300])
    return "; ".join(parts)


async def _stored(dsn: str, tenant_id: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        record = await store.get(conn, tenant_id)
    finally:
        await conn.close()
    if record is None:
        return ["no stored record"]
    return [f"stored {record.status} slot {record.slot_index} updated {record.updated_at:%H:%M:%S.%f} "
            f"error {record.last_error!r}"]


async def _pooled(consul: Consul, tenant_id: str) -> list[str]:
    snap = await protocol.snapshot(consul)
    held = snap.tenants.get(tenant_id)
    parts = [f"pool record {held}"]
    if held is not None:
        claim, slot = snap.claims.get(held[0]), snap.slots.get(held[0])
        if claim is not None:
            parts.append(f"claim {claim.tenant_id} {claim.attempt} {claim.alloc_id[:8]} {claim.slot_session[:8]}")
        if slot is not None:
            parts.append(f"slot {slot.mode.value} {slot.tenant_id} {slot.attempt} {slot.alloc_id[:8]} "
                         f"{slot.session[:8]} {slot.error}")
    return parts


def slot_log_lines(state_root: Path, tenant_id: str) -> list[str]:
    """The last lines naming ``tenant_id`` in each slot's log files, prefixed by the allocation."""
    found = []
    for log_file in sorted(state_root.glob(SLOT_LOGS)):
        with contextlib.suppress(OSError):
            if not log_file.is_file():
                continue
            lines = [ln for ln in log_file.read_text(errors="replace").splitlines() if tenant_id in ln]
            found += [f"{log_file.parts[-4][:8]}: {ln[:300]}" for ln in lines[-8:]]
    return found


def pool_problems(snap: protocol.PoolSnapshot, expected: list[Tenant]) -> list[str]:
    """What is wrong with the pool's records: orphan claims, a tenant in two slots, an expected tenant not served."""
    problems = []
    serving: dict[str, list[int]] = {}
    for slot in snap.active():
        if slot.tenant_id:
            serving.setdefault(slot.tenant_id, []).append(slot.index)
    problems += [f"double:{t} in slots {ix}" for t, ix in serving.items() if len(ix) > 1]
    for index, claim in snap.claims.items():
        if snap.slots.get(index) is None:
            problems.append(f"orphan:claim {index} has no slot")
        elif claim.kind is ClaimKind.TENANT and claim.tenant_id is not None:
            held = snap.tenants.get(claim.tenant_id)
            if held is None or held[0] != index:
                problems.append(f"orphan:claim {index} for {claim.tenant_id}, whose tenant key says {held}")
    for tenant_id, (index, _) in snap.tenants.items():
        held_claim = snap.claims.get(index)
        if held_claim is None or held_claim.tenant_id != tenant_id:
            problems.append(f"dangling:tenant key {tenant_id} -> slot {index} without its claim")
    for tenant in expected:
        if tenant.tenant_id not in serving:
            problems.append(f"unserved:{tenant.tenant_id}")
    return problems
