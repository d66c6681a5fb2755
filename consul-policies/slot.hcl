# A pool slot (job bot-pool), from its Consul workload identity (binding rule
# on nomad_job_id == "bot-pool"). It reads the pool, publishes its own record
# under slots/ (session-bound), acknowledges its claim under claims/ (CAS),
# raises an alert when it refuses a tampered handoff (alerts/), and watches
# its own registration's health checks.
#
# The limit of one shared identity: every slot holds the same policy, so a slot
# can write ANOTHER slot's record or claim acknowledgement. Consul cannot narrow
# a key rule per allocation. What a forged record cannot do is move a handoff:
# the activator delivers only to the allocation the Nomad client registered in
# the catalog for that index (service bot-pool-slot, meta alloc_id), which a
# slot's token cannot write (service read only). docs/handoff.md.
key_prefix "botpool/pool/" {
  policy = "read"
}
key_prefix "botpool/pool/slots/" {
  policy = "write"
}
key_prefix "botpool/pool/claims/" {
  policy = "write"
}
key_prefix "botpool/alerts/" {
  policy = "write"
}
session_prefix "" {
  policy = "write"
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
