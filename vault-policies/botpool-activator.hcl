# The activator (sales bot, `botpool tenant`, the reconciler) stores each tenant's
# bot token and credentials, and may read them back ONLY as a response-wrapped
# secret valid for at most 300 s: a plain read is refused, so a leaked activator
# token cannot reveal any tenant's bot token, only mint single-use wrapping tokens
# whose use the receiving slot would notice (it verifies the creation path).
path "secret/data/tenants/*" {
  capabilities     = ["create", "update", "read"]
  min_wrapping_ttl = "1s"
  max_wrapping_ttl = "300s"
}

# The wrapping token goes to the slot it is meant for through Vault, never
# through Consul: the activator writes it under the target allocation's id and
# the claim's attempt, and only that allocation's own Vault token can read it
# (vault-policies/botpool-slot.hcl). Create only: no read, no update, so an
# activator token can neither see nor overwrite a handoff once written.
path "secret/data/handoff/*" {
  capabilities = ["create"]
}

# Deleting a tenant after its retention period (the reconciler; docs/operating.md, "Subscriptions"): its
# secret goes with every version. Delete only: metadata can be neither read nor listed, so this reveals
# no tenant id and no secret.
path "secret/metadata/tenants/*" {
  capabilities = ["delete"]
}
