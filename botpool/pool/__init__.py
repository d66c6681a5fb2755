"""The pool protocol: how slots, the activator, the reconciler and the scaler agree through Consul.

Each part of the pool state has exactly one kind of writer, and Consul's ACLs hold each to it:

* **a slot's state**: the meta of its own catalog node ``slot-<allocation id>``,
  written by that slot alone (its token's node identity; ``keys.slot_node``),
  and counted only while Nomad's registration of that allocation at that index
  is alive, so it drops out by itself when the slot dies or turns unhealthy;
* ``claims/<index>``: an assignment (tenant, attempt, allocation; never a
  secret) or a scaler's fence, created only with check-and-set so one slot
  never serves two tenants; written by the control plane, never by a slot;
* ``tenants/<tenant_id>``: which slot a tenant holds, created in the same
  transaction as the claim so one tenant never holds two slots.
"""
