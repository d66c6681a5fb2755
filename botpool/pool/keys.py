"""Every Consul key botpool uses, named in one place (as arq names its Redis keys)."""

from __future__ import annotations

ROOT = "botpool/"
POOL = ROOT + "pool/"
SLOTS = POOL + "slots/"
CLAIMS = POOL + "claims/"
TENANTS = POOL + "tenants/"
#: The pool allocations on draining, ineligible or down Nomad nodes (``botpool.pool.nodes``): never free.
LEAVING = POOL + "leaving"
ALERTS = ROOT + "alerts/"
LEADERS = ROOT + "leaders/"

#: Consul service name every slot registers (jobs/bot-pool.nomad.hcl must match).
SLOT_SERVICE = "bot-pool-slot"


def slot(index: int) -> str:
    """Key of the state a slot publishes about itself (session-bound, ephemeral)."""
    return f"{SLOTS}{index:04d}"


def claim(index: int) -> str:
    """Key of the assignment or fence placed on a slot (CAS-created)."""
    return f"{CLAIMS}{index:04d}"


def tenant(tenant_id: str) -> str:
    """Key recording which slot index a tenant holds (CAS-created with its claim)."""
    return f"{TENANTS}{tenant_id}"


def alert(alert_id: str) -> str:
    """Key of one alert event for the operator bot."""
    return f"{ALERTS}{alert_id}"


def leader(role: str) -> str:
    """Lock key for a singleton role (reconciler, scaler)."""
    return f"{LEADERS}{role}"


def index_of(key: str) -> int:
    """Slot index encoded at the end of a ``slots/`` or ``claims/`` key."""
    return int(key.rsplit("/", 1)[1])
