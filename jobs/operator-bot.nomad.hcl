# The operator bot (docs/operator.md): answers the platform's admins in Telegram (/pool, /tenants,
# /tenant, /orders, a confirmed /scale), takes Alertmanager's webhook (port "webhook", POST
# /alertmanager) and pushes the platform's own alerts from Consul KV to every admin. One process
# serves the bot (long polling), the webhook and /health.
#
# Secrets never appear in this file, in job variables or in argv. In production they come from Vault
# through Nomad's template block (var.vault_secrets_path: a KV v2 secret with OPERATOR_BOT_TOKEN,
# OPERATOR_ADMINS, BOTPOOL_DATABASE_URL (the read-only role botpool_operator_bot), NOMAD_TOKEN (policy
# botpool-operator-bot: read the pool job, scale it for /scale) and, if Alertmanager sends one,
# OPERATOR_WEBHOOK_TOKEN). The local stack writes them to a file readable only by its user and passes
# the file's path (var.env_file), which the process loads before reading its settings.
#
# Credentials follow the sales bot's: the Consul token comes from this task's workload identity (the
# binding rule for job operator-bot gives policy botpool-operator-bot, devstack/acl.py), everything
# else from the secrets. The Nomad token travels in the secrets, not through a Nomad workload identity
# binding: the bot has no Vault token and no Redis URL, and nothing here grants more.
#
# One file serves production (driver = "docker") and the local stack and tests (driver = "raw_exec",
# the repo's virtualenv python), like jobs/sales-bot.nomad.hcl. Run one instance: what it delivered is
# remembered in Consul, so a second one would send nothing twice, but two would poll the same bot and
# Telegram allows one long poll per token.

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
  description = "Non-secret settings: CONSUL_HTTP_ADDR, NOMAD_ADDR, TELEGRAM_API_BASE, OPERATOR_LANGUAGE, OPERATOR_TIMEZONE, MAX_TOTAL_BOTS, ..."
}

variable "webhook_port" {
  type        = number
  default     = 8091
  description = "Port of the Alertmanager webhook and /health (internal: only Alertmanager and Consul's check call it)."
}

variable "env_file" {
  type        = string
  default     = ""
  description = "Local stack only: path of a 0600 file with the secret settings (KEY=VALUE lines)."
}

variable "secrets_version" {
  type        = string
  default     = ""
  description = "Local stack only: a digest of the secrets file (never its content); a new value restarts the task with the file's new content."
}

variable "vault_secrets_path" {
  type        = string
  default     = "secret/data/botpool/operator-bot"
  description = "Production: the KV v2 secret the template renders into the task's environment (empty: none)."
}

job "operator-bot" {
  type = "service"

  group "operator" {
    count = 1

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
      port "webhook" {
        static = var.webhook_port
      }
    }

    # Alertmanager's webhook URL (monitoring job, var.operator_webhook_url) points here. No "metrics" tag:
    # the process exposes no /metrics, so Prometheus must not scrape it.
    service {
      name     = "operator-bot"
      provider = "consul"
      port     = "webhook"
      tags     = ["botpool"]

      check {
        name     = "operator-bot-http"
        type     = "http"
        path     = "/health"
        interval = "5s"
        timeout  = "2s"
      }
    }

    task "operator" {
      driver = var.driver

      # A changed secrets file (say new admins at `botpool up`) makes a new job version, so the task restarts
      # and reads it. In production the template re-renders on a Vault change and restarts the task itself.
      meta {
        secrets_version = var.secrets_version
      }

      dynamic "config" {
        for_each = var.driver == "docker" ? [1] : []
        content {
          image   = var.image
          command = "python"
          args    = ["-m", "operator_bot"]
          ports   = ["webhook"]
        }
      }

      dynamic "config" {
        for_each = var.driver == "raw_exec" ? [1] : []
        content {
          command = var.python
          args    = var.env_file == "" ? ["-m", "operator_bot"] : ["-m", "operator_bot", "--env-file", var.env_file]
        }
      }

      dynamic "vault" {
        for_each = var.driver == "docker" && var.vault_secrets_path != "" ? [1] : []
        content {}
      }

      dynamic "template" {
        for_each = var.driver == "docker" && var.vault_secrets_path != "" ? [1] : []
        content {
          destination = "secrets/operator.env"
          env         = true
          data        = <<-EOT
            {{ with secret "${var.vault_secrets_path}" }}{{ range $k, $v := .Data.data }}{{ $k }}={{ $v }}
            {{ end }}{{ end }}
          EOT
        }
      }

      env = merge(var.env, {
        PYTHONPATH            = var.workdir
        OPERATOR_WEBHOOK_HOST = var.driver == "docker" ? "0.0.0.0" : "127.0.0.1"
        OPERATOR_WEBHOOK_PORT = "${NOMAD_PORT_webhook}"
      })

      # The operator bot's Consul token comes from this task's workload identity
      # (binding rule for job operator-bot: policy botpool-operator-bot) as CONSUL_TOKEN.
      consul {}

      # SIGTERM stops polling and the alert watch and closes every connection.
      kill_signal  = "SIGTERM"
      kill_timeout = "30s"

      resources {
        cpu    = 100
        memory = 256
      }
    }
  }
}
