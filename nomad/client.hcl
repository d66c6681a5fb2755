# A client-only Nomad agent: the second node of the local stack (botpool up
# --nodes 2) and of the fault suite, on the same machine as the first. It has
# its own data dir, its own ports and its own Consul client agent (two Nomad
# clients sharing one Consul agent deregister each other's services), joins the
# server of the first node over RPC, and hands out host ports from a range the
# first node (Nomad's default 20000-32000) never uses, since both share
# 127.0.0.1. devstack fills the dollar-brace placeholders.
name      = "${node_name}"
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
  enabled = false
}

client {
  enabled           = true
  servers           = ["127.0.0.1:${server_rpc_port}"]
  network_interface = "lo"
  memory_total_mb   = ${memory_mb}
  min_dynamic_port  = ${min_dynamic_port}
  max_dynamic_port  = ${max_dynamic_port}
  gc_interval       = "30s"
  options = {
    "fingerprint.denylist" = "env_aws,env_gce,env_azure,env_digitalocean"
  }
  # A slot talks to the Consul agent of its own node, as in production
  # (sessions are bound to the agent's node): the pool job reads this.
  meta {
    consul_http_addr = "http://127.0.0.1:${consul_http_port}"
  }
}

plugin "raw_exec" {
  config {
    enabled = true
  }
}

# ACLs as on the server (local.hcl); the agent's Consul token is role nomad's.
acl {
  enabled = true
}

consul {
  address          = "127.0.0.1:${consul_http_port}"
  token            = "${consul_token}"
  auto_advertise   = true
  server_auto_join = false
  client_auto_join = false
}

# The client part of workload identity for Vault (the servers sign the
# identities, see local.hcl): tasks on this node log in at jwt-nomad/ too.
vault {
  enabled               = true
  address               = "http://127.0.0.1:${vault_port}"
  jwt_auth_backend_path = "jwt-nomad"
}

telemetry {
  disable_hostname = true
}
