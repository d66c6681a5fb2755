# The Nomad agents' Consul token (servers and clients: the `consul { token }`
# of their configuration, or CONSUL_HTTP_TOKEN in their environment). A client
# registers every task's services and checks (a slot's `bot-pool-slot`
# registration, with its alloc_id meta, is written here and nowhere else: the
# activator trusts it for that reason) and reads what it registered. Tasks get
# their own tokens from their workload identity through the auth method
# `nomad-workloads`, a login that needs no token, so no `acl` rule here.
agent_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
service_prefix "" {
  policy = "write"
}
