# A pool slot may read, and then delete, ONLY the handoffs addressed to its own
# Nomad allocation: secret/data/handoff/<its allocation id>/<claim attempt>.
# Nothing else: no tenant secret (secret/data/tenants/*), no other slot's
# handoff, no listing. A slot's Vault token comes from its Nomad workload
# identity through the JWT auth method at auth/jwt-nomad/ and its role
# botpool-slot (vault-policies/botpool-slot-role.json), whose user_claim is
# /nomad_allocation_id: every allocation is its own entity alias, named by its
# allocation id, and the template below turns that name into the one path the
# token may touch. (A role whose user_claim is the job id would give all slots
# one shared alias, and the policy could not tell them apart.)
#
# JWT_NOMAD_ACCESSOR is a placeholder: Vault templates name an auth mount by its
# accessor (auth_jwt_xxxxxxxx), which exists only once the mount is enabled.
# Render it when applying, e.g.
#   ACC=$(vault auth list -format=json | jq -r '."jwt-nomad/".accessor')
#   sed "s/JWT_NOMAD_ACCESSOR/$ACC/g" vault-policies/botpool-slot.hcl | vault policy write botpool-slot -
# (the local stack does the same in devstack/services.py, docs/operating.md has the production steps).

path "secret/data/handoff/{{identity.entity.aliases.JWT_NOMAD_ACCESSOR.name}}/*" {
  capabilities = ["read"]
}

# Deleting the metadata removes every version: a handoff, once taken, is gone.
path "secret/metadata/handoff/{{identity.entity.aliases.JWT_NOMAD_ACCESSOR.name}}/*" {
  capabilities = ["delete"]
}
