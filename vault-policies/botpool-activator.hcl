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

# Pool slots need no Vault policy: they unwrap with the wrapping token alone.
