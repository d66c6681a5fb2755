# The reconciler: follows the client nodes (GET /v1/nodes, a blocking query) and,
# when one is draining, ineligible or down, lists the pool job's allocations on
# it, so the tenants there are moved before Nomad stops their slots
# (botpool/pool/nodes.py). Read only: it never submits, scales or stops a job.
namespace "default" {
  capabilities = ["read-job", "list-jobs"]
}

node {
  policy = "read"
}
