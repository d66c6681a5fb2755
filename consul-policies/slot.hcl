# A pool slot (job bot-pool), from its Consul workload identity (binding rule
# on nomad_job_id == "bot-pool"). It reads the pool (claims, tenants' records,
# leaving nodes) and watches its own registration's health checks.
#
# It writes no key at all: not the pool, not alerts (a refused handoff is
# reported in its own state; the activator and the reconciler raise the
# alert, so no slot can forge or delete an alert about another).
#
# Its state goes on its own catalog node, slot-<allocation id>: a second binding rule gives each login the node
# identity of that name (bind type "node", bind name
# "slot-${value.nomad_allocation_id}"), which grants write on that one node.
# So a slot cannot write another slot's state, nor any claim, nor a tenant's
# record, nor an alert (docs/security.md; tests/pool/test_acl.py).
key_prefix "botpool/pool/" {
  policy = "read"
}
service_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
# Its entry in the Consul UI's per-state view (bot_runtime/view.py): services named slots-<state>,
# for people only; nothing trusts them, and the trusted bot-pool-slot registration stays Nomad's.
service_prefix "slots-" {
  policy = "write"
}
