# The stack tooling's own token (local stack: `botpool up`, the test fixtures), and nothing else's.
#
# Why it exists: the local stack re-applies its Vault configuration on every
# start (idempotent: the KV mount, the JWT auth method for Nomad's workload
# identities, the role policies and token roles below, and one periodic token
# per role), and without this token it would need Vault's root token to do so.
# The root token is used once, at initialisation, to write this policy and
# issue this token; then it is revoked and never stored again.
#
# What it cannot do: read or write any tenant's secret or any handoff, read the
# KV mount at all beyond one probe key, change this policy, mint a root token,
# create tokens for any role but the three named below, or touch any other
# mount, auth method, policy or system path. Honest limit: it may rewrite the
# role policies and token roles it maintains, so whoever holds it could widen
# them and issue themselves such a token; it therefore lives only in the
# stack's 0600 state file, beside the unseal key, which is root-equivalent
# anyway (`vault operator generate-root`), and no running service ever holds it.
#
# Production has no such token: an operator with a root token (or with the key
# holders, through generate-root) applies the files of vault-policies/ once by
# hand (docs/operating.md, step 1) and revokes that root token afterwards.

# KV v2 for tenant secrets and handoffs: see whether it is mounted, mount it once.
path "sys/mounts" {
  capabilities = ["read"]
}
path "sys/mounts/secret" {
  capabilities = ["create", "update"]
}
# A fresh KV v2 mount refuses requests for a moment; this one key (never written) tells when it answers.
path "secret/data/botpool-stack/probe" {
  capabilities = ["read"]
}

# The JWT auth method slots log in with (vault-policies/botpool-slot-role.json).
path "sys/auth" {
  capabilities = ["read"]
}
path "sys/auth/jwt-nomad" {
  capabilities = ["create", "update", "sudo"]
}
path "auth/jwt-nomad/config" {
  capabilities = ["create", "update", "read"]
}
path "auth/jwt-nomad/role/botpool-slot" {
  capabilities = ["create", "update", "read"]
}

# The role policies, kept equal to their files. This policy itself only read: a
# changed file is applied with a short-lived root token from generate-root.
path "sys/policies/acl/botpool-slot" {
  capabilities = ["create", "update", "read"]
}
path "sys/policies/acl/botpool-activator" {
  capabilities = ["create", "update", "read"]
}
path "sys/policies/acl/botpool-stack-admin" {
  capabilities = ["read"]
}

# The token roles of the control plane and one token per role
# (vault-policies/botpool-*-role.json; the slot's role is the JWT one above).
path "auth/token/roles/botpool-operator" {
  capabilities = ["create", "update", "read"]
}
path "auth/token/roles/botpool-reconciler" {
  capabilities = ["create", "update", "read"]
}
path "auth/token/roles/botpool-sales-bot" {
  capabilities = ["create", "update", "read"]
}
path "auth/token/create/botpool-operator" {
  capabilities = ["create", "update"]
}
path "auth/token/create/botpool-reconciler" {
  capabilities = ["create", "update"]
}
path "auth/token/create/botpool-sales-bot" {
  capabilities = ["create", "update"]
}
