# The pool scaler (job pool-scaler): reads the pool, fences claims on slots it
# is about to remove (claims/ only, never tenants/), and elects its leader
# (botpool/leaders/scaler, a session bound to the TTL check of its own
# election service).
key_prefix "botpool/pool/" {
  policy = "read"
}
key_prefix "botpool/pool/claims/" {
  policy = "write"
}
key "botpool/leaders/scaler" {
  policy = "write"
}
session_prefix "" {
  policy = "write"
}
service "botpool-scaler-election" {
  policy = "write"
}
service_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
