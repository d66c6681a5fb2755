# The warm pool: every allocation of group "pool" is one bot slot that waits
# (WAITING, aiogram already imported) until a claim in Consul makes it a
# tenant's booking bot. The scaler changes the group count through
# POST /v1/job/bot-pool/scale; Nomad removes the highest name indexes first,
# which is why claims pack tenants at the lowest indexes.
#
# One file serves production (driver = "docker", the project image) and the
# local stack and tests (driver = "raw_exec", the repo's virtualenv python).

variable "count" {
  type        = number
  default     = 10
  description = "Initial number of slots; the scaler owns it afterwards."
}

variable "max_count" {
  type        = number
  default     = 100
  description = "MAX_TOTAL_BOTS: the group's scaling maximum."
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
  description = "Where the shared services are: CONSUL_HTTP_ADDR, VAULT_ADDR, TELEGRAM_API_BASE, BOTPOOL_TENANT_PG_*, BOTPOOL_TENANT_REDIS_*."
}

variable "memory_mb" {
  type        = number
  default     = 220
  description = "Measured: a waiting slot is about 197 MB RSS, almost all of it aiogram's types (bench/activation.py)."
}

variable "cpu_mhz" {
  type        = number
  default     = 40
  description = "Scheduling share, not a cap: an idle slot uses about 3 MHz (50 idle slots 6 % of one core, bench/activation.py), and 100 slots x 40 MHz fit a 2-core node of 4600 MHz (2.3 GHz; 50 MHz stopped the ramp at 91 slots there)."
}

job "bot-pool" {
  type = "service"

  group "pool" {
    count = var.count

    scaling {
      enabled = true
      min     = 1
      max     = var.max_count
    }

    # No deployments: a count change must never be blocked by one ("job scaling
    # blocked due to active deployment"), and slots carry live tenants, so a new
    # image is rolled out by the operator slot by slot (docs/operating.md).
    update {
      max_parallel = 0
    }

    restart {
      attempts = 5
      interval = "5m"
      delay    = "1s"
      mode     = "delay"
    }

    # Slots spread over the client nodes (Nomad bin-packs by default): losing or draining
    # one node then takes only its share of the tenants, which the reconciler re-homes on
    # the free slots of the others. A no-op on a single node.
    spread {
      attribute = "${node.unique.id}"
    }

    reschedule {
      delay          = "5s"
      delay_function = "constant"
      unlimited      = true
    }

    network {
      port "http" {}
    }

    # Prometheus scrapes /metrics on this same port (tag "metrics"; bot_runtime/metrics.py).
    service {
      name     = "bot-pool-slot"
      provider = "consul"
      port     = "http"
      tags     = ["botpool", "slot", "metrics"]

      meta {
        alloc_index  = "${NOMAD_ALLOC_INDEX}"
        alloc_id     = "${NOMAD_ALLOC_ID}"
        metrics_path = "/metrics"
      }

      # The check output (the /health body) shows WAITING or ACTIVE tenant=... in the Consul UI.
      # Three failures in a row before critical: a dead slot (connection refused) leaves
      # the pool in about 3 s, a frozen one (each check waits out its timeout, then the
      # interval: Consul runs one check at a time) in about 5 s; a slot starved of CPU for
      # a moment (new slots importing aiogram on a small node) does not drop out of the pool,
      # since its /health answers in milliseconds once it runs at all. A 2 s timeout made
      # the frozen case 9 s and recovery from it miss the 10 s target (docs/operating.md).
      check {
        name                     = "slot-health"
        type                     = "http"
        path                     = "/health"
        interval                 = "1s"
        timeout                  = "1s"
        failures_before_critical = 3
      }
    }

    task "slot" {
      driver = var.driver

      dynamic "config" {
        for_each = var.driver == "docker" ? [1] : []
        content {
          image   = var.image
          command = "python"
          args    = ["-m", "bot_runtime"]
        }
      }

      dynamic "config" {
        for_each = var.driver == "raw_exec" ? [1] : []
        content {
          command = var.python
          args    = ["-m", "bot_runtime"]
        }
      }

      env = merge(var.env, {
        PYTHONPATH = var.workdir
      })

      # The slot's only credential: a Vault token Nomad derives from this
      # allocation's workload identity (JWT auth at auth/jwt-nomad/, role
      # botpool-slot). Its templated policy opens only this allocation's own
      # handoff path, so reading Consul, or being another slot, gets nobody a
      # tenant's wrapping token (docs/handoff.md). The slot reads
      # ${NOMAD_SECRETS_DIR}/vault_token at each use; no VAULT_TOKEN variable
      # (env = false), and a replaced token must not restart a slot serving a
      # tenant (change_mode = "noop").
      vault {
        role        = "botpool-slot"
        env         = false
        change_mode = "noop"
      }

      # The slot's Consul token: Nomad logs in to Consul's auth method
      # nomad-workloads with this task's workload identity and the binding rule
      # for job bot-pool gives it the policy botpool-slot (consul-policies/slot.hcl);
      # the token arrives as CONSUL_TOKEN (and secrets/consul_token), never
      # through the job's variables, where anyone who reads the job would see it.
      consul {}

      kill_timeout = "10s"

      resources {
        cpu    = var.cpu_mhz
        memory = var.memory_mb
      }
    }
  }
}
