# The sales bot: sells tariffs in Telegram, takes payment through YooKassa, and activates the
# buyer's bot in the warm pool (job "bot-pool") through the shared Activator. One process serves the
# bot (long polling), YooKassa's notification endpoint (port "notify", /yookassa/notifications) and
# /health, and runs the pending-payment checker and the order watch (docs/sales.md).
#
# Secrets never appear in this file, in job variables or in argv. In production they come from Vault
# through Nomad's template block (var.vault_secrets_path: a KV v2 secret with SALES_BOT_TOKEN,
# YOOKASSA_SHOP_ID, YOOKASSA_SECRET_KEY, BOTPOOL_DATABASE_URL, BOTPOOL_REDIS_URL and a VAULT_TOKEN with
# the botpool-activator policy). The local stack writes them to a file readable only by its user and
# passes the file's path (var.env_file), which the process loads before reading its settings.
#
# One file serves production (driver = "docker") and the local stack and tests (driver = "raw_exec",
# the repo's virtualenv python), like jobs/bot-pool.nomad.hcl. Several instances may run: orders move
# only through conditional updates and each user's updates are serialised through Redis.

variable "count" {
  type    = number
  default = 1
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
  description = "Non-secret settings: CONSUL_HTTP_ADDR, VAULT_ADDR, TELEGRAM_API_BASE, YOOKASSA_API_URL, YOOKASSA_RETURN_URL, YOOKASSA_TRUSTED_NETWORKS, BOTPOOL_TARIFFS, ..."
}

variable "notify_port" {
  type        = number
  default     = 8090
  description = "Port of the YooKassa notification endpoint (a reverse proxy with TLS fronts it in production)."
}

variable "env_file" {
  type        = string
  default     = ""
  description = "Local stack only: path of a 0600 file with the secret settings (KEY=VALUE lines)."
}

variable "vault_secrets_path" {
  type        = string
  default     = "secret/data/botpool/sales-bot"
  description = "Production: the KV v2 secret the template renders into the task's environment (empty: none)."
}

job "sales-bot" {
  type = "service"

  group "sales" {
    count = var.count

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
      port "notify" {
        static = var.notify_port
      }
    }

    # Prometheus scrapes /metrics on this same port (tag "metrics"; sales_bot/metrics.py). The TLS proxy in
    # front of it in production must forward only /yookassa/notifications, so /metrics stays internal.
    service {
      name     = "sales-bot"
      provider = "consul"
      port     = "notify"
      tags     = ["botpool", "metrics"]

      meta {
        metrics_path = "/metrics"
      }

      check {
        name     = "sales-bot-http"
        type     = "http"
        path     = "/health"
        interval = "5s"
        timeout  = "2s"
      }
    }

    task "sales" {
      driver = var.driver

      dynamic "config" {
        for_each = var.driver == "docker" ? [1] : []
        content {
          image   = var.image
          command = "python"
          args    = ["-m", "sales_bot"]
          ports   = ["notify"]
        }
      }

      dynamic "config" {
        for_each = var.driver == "raw_exec" ? [1] : []
        content {
          command = var.python
          args    = var.env_file == "" ? ["-m", "sales_bot"] : ["-m", "sales_bot", "--env-file", var.env_file]
        }
      }

      dynamic "vault" {
        for_each = var.driver == "docker" && var.vault_secrets_path != "" ? [1] : []
        content {}
      }

      dynamic "template" {
        for_each = var.driver == "docker" && var.vault_secrets_path != "" ? [1] : []
        content {
          destination = "secrets/sales.env"
          env         = true
          data        = <<-EOT
            {{ with secret "${var.vault_secrets_path}" }}{{ range $k, $v := .Data.data }}{{ $k }}={{ $v }}
            {{ end }}{{ end }}
          EOT
        }
      }

      env = merge(var.env, {
        PYTHONPATH        = var.workdir
        SALES_NOTIFY_HOST = var.driver == "docker" ? "0.0.0.0" : "127.0.0.1"
        SALES_NOTIFY_PORT = "${NOMAD_PORT_notify}"
      })

      # The sales bot's Consul token comes from this task's workload identity
      # (binding rule for job sales-bot: policy botpool-sales) as CONSUL_TOKEN.
      consul {}

      # SIGTERM stops polling, lets activations in flight finish and closes every connection.
      kill_signal  = "SIGTERM"
      kill_timeout = "30s"

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
