# The operator CLI (`botpool ...`, stack.env): everything under botpool/
# (tenants, claims, alerts), sessions, reading the catalog, and removing the
# state node of a slot that was killed before it could (node_prefix "slot-"). No ACL management, no other key tree: bootstrap and policy changes
# use the management token, kept offline (docs/operating.md).
key_prefix "botpool/" {
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
agent_prefix "" {
  policy = "read"
}
node_prefix "slot-" {
  policy = "write"
}
