"""Which Nomad allocation holds a pool index, as the Nomad client registered it in Consul's catalog.

A slot's own record (``botpool/pool/slots/<i>``) names its allocation, but
every slot holds the same Consul policy and could rewrite another slot's
record with its own allocation id, so that the next handoff for index *i*
lands at the thief's handoff path. The catalog registration of service
``bot-pool-slot`` is written by the Nomad client with the agent's own token
(meta ``alloc_index`` and ``alloc_id`` from Nomad's own variables); a slot's
token can only read it. The activator delivers only when the two agree.
"""

from __future__ import annotations

from consul.aio import Consul

from botpool.pool import keys


async def registered_allocations(consul: Consul, index: int) -> set[str]:
    """The allocation ids Nomad registered for pool index ``index`` (usually one; two while one replaces another)."""
    _, services = await consul.catalog.service(keys.SLOT_SERVICE)
    found: set[str] = set()
    for service in services:
        meta = service.get("ServiceMeta") or {}
        if meta.get("alloc_index") == str(index) and meta.get("alloc_id"):
            found.add(str(meta["alloc_id"]))
    return found
