# The Consul agent's own token (`acl { tokens { agent = ... } }`, set by the
# stack through /v1/agent/token/agent): it registers its node and keeps the
# node's checks in sync. Nothing else.
node_prefix "" {
  policy = "write"
}
service_prefix "" {
  policy = "read"
}
