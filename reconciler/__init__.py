"""The reconciler: every paid tenant is served by exactly one acknowledged slot, whatever died.

Desired state is the control schema in PostgreSQL (tenants that are active and
paid); actual state is Consul (slots, claims). One leader at a time (Consul
lock) repairs the difference: a tenant whose slot died or never acknowledged
is re-activated elsewhere with a fresh wrapped token, an expired tenant is
released. Nothing relies on a process's memory surviving; what it keeps in
memory (when it first saw a problem) only paces retries.
"""
