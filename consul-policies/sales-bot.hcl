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
session_prefix "" {
  policy = "write"
}
service_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
