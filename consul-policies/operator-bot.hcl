# The operator bot (python -m operator_bot): reads the whole pool and the
# alerts, scales the pool like `botpool scale` (a scale-in fences the slots
# it removes: claims/ only, never tenants/), clears the platform alerts it
# has delivered, and remembers what it delivered under its own prefix.
# No session, no leader lock, no slot record, no tenant record.
key_prefix "botpool/" {
  policy = "read"
}
key_prefix "botpool/pool/claims/" {
  policy = "write"
}
key_prefix "botpool/alerts/" {
  policy = "write"
}
key_prefix "botpool/operator-bot/" {
  policy = "write"
}
service_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
