# The sales bot (job sales-bot): activates a buyer's tenant when paid, so it
# holds what the activator needs (claims/ and tenants/, alerts), and no leader
# lock or slot record.
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
# Every claim checks the published list of slots on leaving nodes (botpool/pool/nodes.py); for a list not
# published yet that is a "check-not-exists", which Consul authorises as a write.
key "botpool/pool/leaving" {
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
