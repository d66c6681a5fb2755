# The operator bot: reads the pool job and its scale status for /pool and
# changes the group's count for a confirmed /scale (POST /v1/job/bot-pool/scale),
# exactly like the scaler. It cannot submit, stop or change a job otherwise,
# read logs, or read nodes.
namespace "default" {
  capabilities = ["read-job", "scale-job", "list-jobs"]
}
