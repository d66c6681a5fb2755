# The pool scaler: reads the pool job and its allocations and changes the
# group's count (POST /v1/job/bot-pool/scale). It cannot submit, stop or
# change a job in any other way. Bound to the job pool-scaler's workload
# identity (JobACL) when the scaler runs in Nomad; a token of its own when
# it runs outside (the local stack, the tests).
namespace "default" {
  capabilities = ["read-job", "scale-job", "list-jobs"]
}
