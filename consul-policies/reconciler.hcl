# The reconciler and the activator it runs: claims slots for tenants
# (claims/ and tenants/ in one transaction), withdraws them, raises alerts,
# and elects its leader (botpool/leaders/reconciler). It reads slots' state
# (their catalog nodes) and removes the state of slots Nomad no longer runs.
key_prefix "botpool/" {
  policy = "read"
}
key_prefix "botpool/pool/claims/" {
  policy = "write"
}
key_prefix "botpool/pool/tenants/" {
  policy = "write"
}
key_prefix "botpool/alerts/" {
  policy = "write"
}
key "botpool/leaders/reconciler" {
  policy = "write"
}
# Every claim checks the published list of slots on leaving nodes (botpool/pool/nodes.py); for a list not
# published yet that is a "check-not-exists", which Consul authorises as a write.
key "botpool/pool/leaving" {
  policy = "write"
}
session_prefix "" {
  policy = "write"
}
service "botpool-reconciler-election" {
  policy = "write"
}
service_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
# Removes the state node of a slot whose allocation Nomad no longer has (it was killed before it could
# remove it). Consul's node rule cannot tell removing from writing, so the reconciler could also write a
# slot's state; it is trusted with every claim already, and a snapshot counts a slot only while Nomad's
# registration of it is alive.
node_prefix "slot-" {
  policy = "write"
}
