"""Every Consul key and catalog name botpool uses, named in one place (as arq names its Redis keys)."""

from __future__ import annotations

ROOT = "botpool/"
POOL = ROOT + "pool/"
CLAIMS = POOL + "claims/"
TENANTS = POOL + "tenants/"
#: The pool allocations on draining, ineligible or down Nomad nodes (``botpool.pool.nodes``): never free.
LEAVING = POOL + "leaving"
ALERTS = ROOT + "alerts/"
LEADERS = ROOT + "leaders/"

#: Consul service name every slot registers (jobs/bot-pool.nomad.hcl must match).
SLOT_SERVICE = "bot-pool-slot"

#: Prefix of the catalog node each slot publishes its state on (``slot-<allocation id>``). The node's name
#: is the allocation's own: a slot's Consul token carries the node identity of that name alone (binding
#: rule on the workload identity's ``nomad_allocation_id``), so no slot can write another slot's state.
SLOT_NODE_PREFIX = "slot-"
#: Node meta marking a slot's state node, so one catalog query lists them all.
SLOT_NODE_META = ("botpool", "slot")


def slot_node(alloc_id: str) -> str:
    """Catalog node on which the slot of allocation ``alloc_id`` publishes its state (its meta)."""
    return f"{SLOT_NODE_PREFIX}{alloc_id}"


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
    """Slot index encoded at the end of a ``claims/`` key."""
    return int(key.rsplit("/", 1)[1])
