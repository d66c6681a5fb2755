"""The pool as the Consul UI's Services page shows it: one service per slot state, one instance per slot.

Nomad registers every slot as ``bot-pool-slot`` (the registration the activator trusts, which a slot may
not write), so the UI lists N identical instances named after Nomad's internal ids, and whether a slot
waits or serves, and for whom, is one click per slot away. So each slot also registers itself, with its
own token, under the service named for its state (``slots-waiting``, ``slots-activating``,
``slots-active``, ``slots-draining``): the Services page reads "slots-active 8, slots-waiting 7" at a
glance, and each instance carries the slot index, tenant and bot as tags and meta. The instance id is
fixed per slot, so a state change re-registers it under the new name (Consul replaces an id's entry).
Its health is an alias of Nomad's check on the slot, and Consul removes an entry whose slot has been
dead for a minute, so a killed slot disappears from the view by itself.

This view is for people only: nothing reads it to decide anything, and the slot policy can write these
names and no other (a forged entry here fools no code). Failures to update it are logged and ignored:
the pool never waits for its display.
"""

from __future__ import annotations

import structlog
from consul.aio import Consul

from botpool.pool.model import SlotState

log = structlog.get_logger("bot_runtime.view")

#: Prefix of the per-state service names; the slot's Consul policy may write exactly these.
SERVICE_PREFIX = "slots-"
#: How long Consul keeps an entry whose slot is dead before removing it (its minimum is one minute).
REMOVE_DEAD_AFTER = "1m"


def service_name(state: SlotState) -> str:
    """The service a slot in ``state`` is listed under: ``slots-<state>``."""
    return f"{SERVICE_PREFIX}{state.mode.value}"


def instance_id(index: int) -> str:
    """The slot's one entry in the view, whatever its state."""
    return f"slot-{index}"


class ConsulView:
    """Keeps one slot's entry in the per-state services up to date."""

    def __init__(self, consul: Consul) -> None:
        """Register through ``consul`` (the slot's own node agent and token)."""
        self.consul = consul
        self._shown: tuple[str, str | None, str | None] | None = None
        self._failing = False

    async def show(self, state: SlotState, nomad_service_id: str) -> None:
        """List the slot under its state's service (if anything shown changed); never raises."""
        shown = (state.mode.value, state.tenant_id, state.bot_username)
        if shown == self._shown:
            return
        tags = [state.mode.value, f"slot-{state.index}"]
        tags += [t for t in (state.tenant_id, f"@{state.bot_username}" if state.bot_username else None) if t]
        meta = {"slot": str(state.index), "state": state.mode.value, "tenant": state.tenant_id or "",
                "bot": state.bot_username or "", "alloc": state.alloc_id[:8]}
        check = {
            "Name": "the slot's own health (Nomad's check)", "AliasService": nomad_service_id,
            "DeregisterCriticalServiceAfter": REMOVE_DEAD_AFTER,
        }
        try:
            await self.consul.agent.service.register(
                service_name(state), service_id=instance_id(state.index), tags=tags, meta=meta, check=check,
            )
        except Exception as exc:
            if not self._failing:
                log.warning("Consul UI view not updated", slot=state.index, error=type(exc).__name__)
            self._failing = True
            return
        self._shown, self._failing = shown, False

    async def hide(self, index: int) -> None:
        """Remove the slot's entry (a clean stop); never raises."""
        try:
            await self.consul.agent.service.deregister(instance_id(index))
        except Exception as exc:
            log.warning("Consul UI view entry not removed", slot=index, error=type(exc).__name__)
        self._shown = None
