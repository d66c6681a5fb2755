"""Build ``PoolReading``s by hand for the strategy's unit tests (no cluster needed)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime

from botpool.pool.model import ClaimKind, SlotMode
from scaler.settings import ScalerSettings
from scaler.source import ClaimView, PoolReading, SlotView


def settings(**knobs: object) -> ScalerSettings:
    """Scaler settings with every knob explicit (the environment cannot leak in), overridable by alias."""
    values: dict[str, object] = {
        "MIN_FREE_BOTS": 3,
        "SCALE_BATCH": 5,
        "MAX_TOTAL_BOTS": 100,
        "CHECK_INTERVAL": 30,
        "MAX_FREE_BOTS": 10,
        "SCALE_IN_COOLDOWN": 120,
        "ALERT_UTILISATION": 0.8,
        "BOTPOOL_POOL_JOB": "bot-pool",
        "BOTPOOL_POOL_GROUP": "pool",
    }
    values.update(knobs)
    return ScalerSettings.model_validate(values)


def reading(
    desired: int,
    *,
    busy: Iterable[int] = (),
    active: bool = True,
    missing: Iterable[int] = (),
    unhealthy: Iterable[int] = (),
    fenced: Iterable[int] = (),
    claimed_missing: Iterable[int] = (),
    extra_slots: Iterable[int] = (),
    leaving: Iterable[int] = (),
    scaling_min: int = 1,
    scaling_max: int | None = 100,
    last_scale_at: float | None = None,
    job_found: bool = True,
) -> PoolReading:
    """A pool of ``desired`` slots, all healthy and WAITING unless listed.

    ``busy`` hold a tenant (ACTIVE, or WAITING with a fresh tenant claim when ``active`` is False);
    ``missing`` have no slot key yet (placed, not healthy); ``unhealthy`` have a key but a failing
    check; ``fenced`` are DRAINING under a scale-in fence; ``claimed_missing`` hold a tenant claim
    while their slot is restarting; ``extra_slots`` are slots at indexes >= desired (being stopped);
    ``leaving`` run on a node that is draining (their allocations are published as leaving).
    """
    restarting = set(claimed_missing)
    busy, missing, unhealthy, fenced = set(busy), set(missing) | restarting, set(unhealthy), set(fenced)
    slots: list[SlotView] = []
    claims: list[ClaimView] = []
    for i in [*range(desired), *extra_slots]:
        if i in busy or i in fenced or i in restarting:
            claims.append(ClaimView(
                index=i, kind=ClaimKind.FENCE if i in fenced else ClaimKind.TENANT, attempt=f"a{i}",
                alloc_id=f"alloc-{i}", slot_session=f"s{i}", claimed_at=datetime(2026, 1, 1, tzinfo=UTC),
                modify_index=100 + i, tenant_id=None if i in fenced else f"t_tenant{i:04d}",
                reason="scale-in test" if i in fenced else None,
            ))
        if i in missing:
            continue
        mode = SlotMode.WAITING
        if i in busy and active:
            mode = SlotMode.ACTIVE
        elif i in fenced:
            mode = SlotMode.DRAINING
        slots.append(SlotView(
            index=i, alloc_id=f"alloc-{i}", mode=mode, healthy=i not in unhealthy, modify_index=10 + i,
            session=f"s{i}",
        ))
    return PoolReading(
        at=time.time(), job_found=job_found, desired=desired, placed=desired, running=desired,
        job_modify_index=42, scaling_min=scaling_min, scaling_max=scaling_max, last_scale_at=last_scale_at,
        slots=tuple(slots), claims=tuple(claims), leaving=frozenset(f"alloc-{i}" for i in leaving),
    )
