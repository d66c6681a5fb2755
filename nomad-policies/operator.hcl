# The operator CLI (`botpool scale`, `botpool up`'s job submissions, reading
# allocations): submits and reads botpool's jobs and scales them, and reads
# the nodes. No ACL management and no exec into tasks: those need the
# management token, kept offline (docs/operating.md).
namespace "default" {
  capabilities = ["list-jobs", "parse-job", "read-job", "submit-job", "scale-job", "read-logs"]
}
node {
  policy = "read"
}
agent {
  policy = "read"
}
