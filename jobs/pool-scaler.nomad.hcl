# The pool scaler: keeps enough free bot slots in job "bot-pool" through
# POST /v1/job/bot-pool/scale, and shrinks it through free slots only.
# Two instances run; a Consul lock (botpool/leaders/scaler) makes one of them
# the leader, and the other takes over within ~7 s if the leader dies.
#
# It needs no Docker socket and no host access: only the Consul and Nomad
# HTTP APIs. With Nomad ACLs on, give the job's workload identity a policy
# with `namespace "default" { capabilities = ["read-job", "scale-job"] }`
# (nomad acl policy apply -namespace default -job pool-scaler pool-scaler policy.hcl)
# and set var.use_workload_identity = true; see docs/scaler.md.
#
# One file serves production (driver = "docker") and the local stack and tests
# (driver = "raw_exec", the repo's virtualenv python), like jobs/bot-pool.nomad.hcl.

variable "count" {
  type        = number
  default     = 2
  description = "Scaler instances; one leads, the others stand by."
}

variable "driver" {
  type    = string
  default = "docker"
  validation {
    condition     = contains(["docker", "raw_exec"], var.driver)
    error_message = "Driver must be docker or raw_exec."
  }
}

variable "image" {
  type    = string
  default = "registry.example.com/botpool:latest"
}

variable "python" {
  type        = string
  default     = "python"
  description = "raw_exec only: the interpreter with botpool installed (the repo's .venv/bin/python)."
}

variable "workdir" {
  type        = string
  default     = "/app"
  description = "raw_exec only: the checkout botpool runs from."
}

variable "env" {
  type        = map(string)
  default     = {}
  description = "Where Consul and Nomad are: CONSUL_HTTP_ADDR, NOMAD_ADDR (tokens come from the workload identity, never from here)."
}

variable "settings" {
  type = map(string)
  default = {
    MIN_FREE_BOTS     = "3"
    SCALE_BATCH       = "5"
    MAX_TOTAL_BOTS    = "100"
    CHECK_INTERVAL    = "30"
    MAX_FREE_BOTS     = "10"
    SCALE_IN_COOLDOWN = "120"
  }
  description = "The scaler's knobs (docs/scaler.md); invalid combinations make the task exit at start with a clear message."
}

variable "distinct_hosts" {
  type        = bool
  default     = false
  description = "Put the instances on different client nodes (set true in production with two or more nodes)."
}

variable "use_workload_identity" {
  type        = bool
  default     = true
  description = "Expose the task's workload identity as NOMAD_TOKEN: the Nomad policy botpool-scaler-job is bound to this job's task (nomad-policies/scaler.hcl)."
}

job "pool-scaler" {
  type = "service"

  group "scaler" {
    count = var.count

    constraint {
      operator = "distinct_hosts"
      value    = var.distinct_hosts ? "true" : "false"
    }

    restart {
      attempts = 10
      interval = "5m"
      delay    = "2s"
      mode     = "delay"
    }

    reschedule {
      delay          = "5s"
      delay_function = "constant"
      unlimited      = true
    }

    network {
      port "http" {}
    }

    # Prometheus scrapes /metrics on every instance; botpool_scaler_leader says which one leads.
    service {
      name     = "pool-scaler"
      provider = "consul"
      port     = "http"
      tags     = ["botpool", "metrics"]

      meta {
        metrics_path = "/metrics"
        alloc_id     = "${NOMAD_ALLOC_ID}"
      }

      check {
        name     = "scaler-http"
        type     = "http"
        path     = "/health"
        interval = "5s"
        timeout  = "2s"
      }
    }

    task "scaler" {
      driver = var.driver

      dynamic "config" {
        for_each = var.driver == "docker" ? [1] : []
        content {
          image   = var.image
          command = "python"
          args    = ["-m", "scaler"]
        }
      }

      dynamic "config" {
        for_each = var.driver == "raw_exec" ? [1] : []
        content {
          command = var.python
          args    = ["-m", "scaler"]
        }
      }

      dynamic "identity" {
        for_each = var.use_workload_identity ? [1] : []
        content {
          env = true
        }
      }

      # The scaler's Consul token comes from this task's workload identity
      # (binding rule for job pool-scaler: policy botpool-scaler) as CONSUL_TOKEN.
      consul {}

      env = merge(var.settings, var.env, {
        PYTHONPATH                  = var.workdir
        BOTPOOL_SCALER_METRICS_HOST = "0.0.0.0"
      })

      # SIGTERM makes the leader release its lock at once, so the standby takes over without waiting.
      kill_signal  = "SIGTERM"
      kill_timeout = "10s"

      resources {
        cpu    = 100
        memory = 128
      }
    }
  }
}
