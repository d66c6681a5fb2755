"""The pool protocol: how slots, the activator, the reconciler and the scaler agree through Consul.

Consul KV is the single place where pool state lives:

* ``slots/<index>``: what a slot says about itself, written under the slot's
  own session (bound to its Consul service check), so it vanishes by itself
  when the slot dies or turns unhealthy;
* ``claims/<index>``: an assignment (tenant + Vault wrapping token) or a
  scaler's fence, created only with check-and-set so one slot never serves
  two tenants;
* ``tenants/<tenant_id>``: which slot a tenant holds, created in the same
  transaction as the claim so one tenant never holds two slots.
"""
