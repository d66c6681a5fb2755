"""What the pool should be, as a pure function of one reading, the settings and the time.

``decide`` does no I/O, so every rule below is unit-tested exhaustively
without a cluster, and the service, the benchmark and ``botpool scale`` agree
on the arithmetic. The rules, in order:

1. **No job, nothing to do.** The scaler never creates the pool job.
2. **Over the cap** (an operator lowered ``MAX_TOTAL_BOTS`` or the job's
   ``scaling { max }``): shrink toward the cap, but only through free slots.
3. **Shortage**: fewer than ``MIN_FREE_BOTS`` slots free *or on their way*
   (pending slots that will arrive free), after setting aside one for every
   tenant that must move off a leaving node (draining, ineligible or down;
   slots there are never free). Slots on their way count, so a
   shortage already answered by a scale-up is not answered twice while the
   new slots boot. Grow by ``SCALE_BATCH`` (more if the shortage is deeper),
   never beyond ``min(MAX_TOTAL_BOTS, scaling max)``; at the cap, say so.
4. **Excess**: more than ``MAX_FREE_BOTS`` free, nothing pending, and the
   group's last scale event is older than ``SCALE_IN_COOLDOWN``: remove the
   excess, but only from the top and only through free slots (Nomad stops the
   highest name indexes), so a busy slot at a high index holds the count up.
5. Otherwise the pool is within its band.

Alert conditions (utilisation above ``ALERT_UTILISATION``; at the cap with no
free slot) are part of the decision so they are tested the same way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from botpool.pool.scaling import lowest_allowed
from scaler.settings import ScalerSettings
from scaler.source import PoolReading


class Action(enum.StrEnum):
    """What to do to the group's count."""

    UP = "up"
    IN = "in"
    NONE = "none"


class Reason(enum.StrEnum):
    """Why: a small fixed vocabulary, so metrics and log queries can group decisions by it."""

    NO_JOB = "no_job"
    SHORTAGE = "shortage"
    AT_CAP = "at_cap"
    OVER_CAP = "over_cap"
    EXCESS = "excess"
    PENDING = "pending"
    COOLDOWN = "cooldown"
    BUSY_AT_TOP = "busy_at_top"
    BALANCED = "balanced"
    MANUAL = "manual"


class AlertKind(enum.StrEnum):
    """Conditions the scaler logs and counts; operators are told by the Prometheus rules on its pool gauges."""

    UTILISATION_HIGH = "pool_utilisation_high"
    AT_MAX_NO_FREE = "pool_at_max_no_free"


@dataclass(frozen=True)
class AlertCondition:
    """One alert-worthy condition, with a sentence for the operator."""

    kind: AlertKind
    message: str


@dataclass(frozen=True)
class Decision:
    """The verdict on one reading: the action, the group count to set, and why (code and sentence)."""

    action: Action
    target: int
    reason: Reason
    detail: str
    alerts: tuple[AlertCondition, ...] = ()

    @property
    def changes_count(self) -> bool:
        """True if the decision asks Nomad for a different count."""
        return self.action is not Action.NONE


def cap(reading: PoolReading, settings: ScalerSettings) -> int:
    """The most slots the pool may have: ``MAX_TOTAL_BOTS``, lowered by the job's own scaling max if smaller."""
    if reading.scaling_max is None:
        return settings.max_total
    return min(settings.max_total, reading.scaling_max)


def alert_conditions(reading: PoolReading, settings: ScalerSettings) -> tuple[AlertCondition, ...]:
    """Alert-worthy conditions in this reading (the service raises each once per episode)."""
    found: list[AlertCondition] = []
    if not reading.job_found or reading.desired == 0:
        return ()
    if reading.utilisation > settings.alert_utilisation:
        found.append(AlertCondition(
            AlertKind.UTILISATION_HIGH,
            f"pool utilisation {reading.utilisation:.0%} is above {settings.alert_utilisation:.0%} "
            f"({reading.busy} of {reading.desired} slots hold a tenant)",
        ))
    limit = cap(reading, settings)
    if reading.desired >= limit and reading.free == 0:
        found.append(AlertCondition(
            AlertKind.AT_MAX_NO_FREE,
            f"pool is at its maximum of {limit} slots with no free slot: new buyers cannot be served "
            "(raise MAX_TOTAL_BOTS and the job's scaling max, or add capacity)",
        ))
    return tuple(found)


def decide(reading: PoolReading, settings: ScalerSettings, now: float) -> Decision:
    """Decide the group's count from one reading; ``now`` is wall-clock seconds (Nomad's event times are too)."""
    alerts = alert_conditions(reading, settings)

    def verdict(action: Action, target: int, reason: Reason, detail: str) -> Decision:
        return Decision(action, target, reason, detail, alerts)

    desired = reading.desired
    if not reading.job_found:
        return verdict(Action.NONE, desired, Reason.NO_JOB, f"job {settings.job} is not running")
    limit = cap(reading, settings)
    floor = max(reading.shrink_floor, lowest_allowed(reading))

    if desired > limit:
        target = max(limit, floor)
        if target < desired and reading.pending == 0:
            return verdict(
                Action.IN, target, Reason.OVER_CAP,
                f"{desired} slots is above the cap of {limit}; removing {desired - target} free slots from the top",
            )
        return verdict(
            Action.NONE, desired, Reason.OVER_CAP,
            f"{desired} slots is above the cap of {limit}, but the top slots are busy or still starting",
        )

    supply = reading.free + reading.pending_free - reading.moving
    moving = f", {reading.moving} to move off leaving nodes" if reading.moving else ""
    if supply < settings.min_free:
        if desired >= limit:
            return verdict(
                Action.NONE, desired, Reason.AT_CAP,
                f"only {reading.free} free (+{reading.pending_free} starting{moving}) but the pool is at its cap "
                f"of {limit}",
            )
        step = max(settings.batch, settings.min_free - supply)
        target = min(limit, desired + step)
        return verdict(
            Action.UP, target, Reason.SHORTAGE,
            f"only {reading.free} free (+{reading.pending_free} starting{moving}), below "
            f"MIN_FREE_BOTS={settings.min_free}; adding {target - desired}",
        )

    if reading.free > settings.max_free:
        if reading.pending:
            return verdict(
                Action.NONE, desired, Reason.PENDING,
                f"{reading.free} free is above MAX_FREE_BOTS={settings.max_free}, "
                f"but {reading.pending} slots are still starting",
            )
        if reading.last_scale_at is not None:
            quiet = now - reading.last_scale_at
            if quiet < settings.scale_in_cooldown_s:
                return verdict(
                    Action.NONE, desired, Reason.COOLDOWN,
                    f"{reading.free} free is above MAX_FREE_BOTS={settings.max_free}; last scale {quiet:.0f} s ago, "
                    f"cooldown {settings.scale_in_cooldown_s:.0f} s",
                )
        wanted = desired - (reading.free - settings.max_free)
        target = max(wanted, floor)
        if target >= desired:
            return verdict(
                Action.NONE, desired, Reason.BUSY_AT_TOP,
                f"{reading.free} free is above MAX_FREE_BOTS={settings.max_free}, but slot {desired - 1} "
                "is not free (busy slots sit at the top; Nomad only removes the highest indexes)",
            )
        return verdict(
            Action.IN, target, Reason.EXCESS,
            f"{reading.free} free is above MAX_FREE_BOTS={settings.max_free}; removing {desired - target} "
            f"free slots at indexes {target}..{desired - 1}",
        )

    return verdict(
        Action.NONE, desired, Reason.BALANCED,
        f"{reading.free} free (+{reading.pending_free} starting) within [{settings.min_free}, {settings.max_free}]",
    )
