# Nomad agent for the local stack and the tests: one server+client on loopback,
# raw_exec enabled (no Docker engine here), services registered in the local
# Consul agent. devstack fills the dollar-brace placeholders with free ports and
# paths; production agents are configured by the operator (docs/operating.md).
bind_addr = "127.0.0.1"
data_dir  = "${data_dir}"
log_level = "INFO"
disable_update_check = true

ports {
  http = ${http_port}
  rpc  = ${rpc_port}
  serf = ${serf_port}
}

advertise {
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}

server {
  enabled          = true
  bootstrap_expect = 1
}

client {
  enabled           = true
  network_interface = "lo"
  # Slots are scheduled by the memory they declare; give the dev node a known budget.
  memory_total_mb = ${memory_mb}
  # Deleting allocations quickly keeps a long test session's data dir small.
  gc_interval = "30s"
  # Cloud metadata fingerprinters probe IMDS endpoints that do not exist on a
  # loopback-only machine (and env_aws fails hard in this build); skip them.
  options = {
    "fingerprint.denylist" = "env_aws,env_gce,env_azure,env_digitalocean"
  }
}

plugin "raw_exec" {
  config {
    enabled = true
  }
}

# ACLs on, as in production: the stack bootstraps them and keeps the management
# token for its own tooling; services and the operator get role tokens
# (devstack/acl.py, nomad-policies/).
acl {
  enabled = true
}

# The agent's own Consul token (role nomad, consul-policies/nomad.hcl) registers
# the tasks' services. Tasks get a Consul token of their own from their workload
# identity (audience consul.io) through Consul's JWT auth method
# nomad-workloads, whose binding rules give each job its role's policy; a task
# asks for it with a `consul {}` block and finds it in CONSUL_TOKEN and
# secrets/consul_token, never in the job's variables.
consul {
  address             = "127.0.0.1:${consul_http_port}"
  token               = "${consul_token}"
  auto_advertise      = true
  server_auto_join    = false
  client_auto_join    = false

  task_identity {
    aud = ["consul.io"]
    ttl = "1h"
  }
}

# Workload identity for Vault: the server signs each task's identity (a JWT for
# the audience vault.io, its keys at /.well-known/jwks.json), and the client logs
# in with it at Vault's JWT auth method jwt-nomad/ to get the task its own Vault
# token (a slot's opens only its allocation's handoffs, docs/handoff.md). devstack
# configures the Vault side once this agent answers (the auth method checks the
# JWKS URL when written). A client-only agent needs the same client part.
vault {
  enabled               = true
  address               = "http://127.0.0.1:${vault_port}"
  jwt_auth_backend_path = "jwt-nomad"

  default_identity {
    aud = ["vault.io"]
    ttl = "1h"
  }
}

telemetry {
  disable_hostname = true
}
