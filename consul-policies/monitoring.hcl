# Monitoring (job monitoring, task prometheus): its Nomad template renders
# Prometheus's scrape targets from Consul's catalog, the instances of every
# service tagged "metrics" (jobs/monitoring.nomad.hcl). Listing services and
# their instances needs service and node read; nothing else, no KV, no writes.
service_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
