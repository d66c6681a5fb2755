# Monitoring: Prometheus and Alertmanager, one allocation (docs/operating.md, "Monitoring").
#
# Prometheus scrapes exactly the Consul services tagged "metrics" (the slots, the scalers, the
# reconciler's election service, the sales bot). It finds them through a file_sd file that this job's
# template renders from Consul's catalog: Nomad (its built-in consul-template) re-renders the file on
# every catalog change and Prometheus re-reads file_sd files by itself, so a new slot is scraped within
# seconds and a stopped one disappears. Debian's prometheus package (bookworm, 2.42) is built without
# Consul service discovery, which is why discovery happens here and not in monitoring/prometheus.yml;
# an upstream Prometheus could use consul_sd_configs directly, to the same effect.
#
# The configuration files are the repository's monitoring/ folder, passed as job variables
# (prometheus_config, alert_rules, alertmanager_config) by whoever submits the job (`botpool up`,
# botpool.jobspec.submit_monitoring), so what promtool checks is what runs. They are written into the
# task directory by template blocks whose delimiters never occur in them (the rules' own {{ $labels }}
# belong to Prometheus, not to Nomad); an edited file reaches a running task as SIGHUP, which both
# programs take as "reload the configuration".
#
# The template reads the catalog with the task's own Consul token, from its workload identity (binding
# rule for job monitoring: policy botpool-monitoring, consul-policies/monitoring.hcl: read services and
# nodes, nothing else). Alertmanager sends every alert to the operator bot's webhook
# (var.operator_webhook_url); an unreachable URL only makes it log failed sends and retry.
#
# One file serves production (driver = "docker": the upstream images, where consul_sd_configs would also
# work) and the local stack and tests (driver = "raw_exec": Debian's /usr/bin/prometheus and
# /usr/bin/prometheus-alertmanager), like jobs/bot-pool.nomad.hcl. In production keep the data on a
# host volume (var.data_dir) and put an authenticating proxy in front of both UIs.

variable "driver" {
  type    = string
  default = "docker"
  validation {
    condition     = contains(["docker", "raw_exec"], var.driver)
    error_message = "Driver must be docker or raw_exec."
  }
}

variable "prometheus_image" {
  type    = string
  default = "prom/prometheus:v2.53.2"
}

variable "alertmanager_image" {
  type    = string
  default = "prom/alertmanager:v0.27.0"
}

variable "prometheus_bin" {
  type        = string
  default     = "/usr/bin/prometheus"
  description = "raw_exec only: the Prometheus binary (Debian package prometheus)."
}

variable "alertmanager_bin" {
  type        = string
  default     = "/usr/bin/prometheus-alertmanager"
  description = "raw_exec only: the Alertmanager binary (Debian package prometheus-alertmanager)."
}

variable "prometheus_port" {
  type    = number
  default = 9090
}

variable "alertmanager_port" {
  type    = number
  default = 9093
}

variable "data_dir" {
  type        = string
  default     = ""
  description = "Where the time series and Alertmanager's silences live (empty: the allocation's data dir, lost with it)."
}

variable "prometheus_config" {
  type        = string
  description = "monitoring/prometheus.yml as text."
}

variable "alert_rules" {
  type        = string
  description = "monitoring/rules/botpool.rules.yml as text."
}

variable "alertmanager_config" {
  type        = string
  description = "monitoring/alertmanager.yml as text; its placeholder webhook URL is replaced by var.operator_webhook_url."
}

variable "operator_webhook_url" {
  type        = string
  default     = "http://127.0.0.1:8099/alertmanager"
  description = "The operator bot's Alertmanager webhook; no credential in it (anyone who reads the job sees it)."
}

locals {
  # The URL monitoring/alertmanager.yml carries in place of the real one.
  webhook_placeholder = "http://127.0.0.1:8099/alertmanager"
  data_dir            = var.data_dir != "" ? var.data_dir : "${NOMAD_ALLOC_DIR}/data"
  listen_ip           = var.driver == "docker" ? "0.0.0.0" : "127.0.0.1"
  # Delimiters for the static files: they never occur in them, so the files are copied as they are.
  static_left  = "[[botpool-static["
  static_right = "]botpool-static]]"
}

job "monitoring" {
  type = "service"

  group "monitoring" {
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
      port "prometheus" {
        static = var.prometheus_port
      }
      port "alertmanager" {
        static = var.alertmanager_port
      }
    }

    service {
      name     = "prometheus"
      provider = "consul"
      port     = "prometheus"
      tags     = ["botpool"]

      check {
        name     = "prometheus-ready"
        type     = "http"
        path     = "/-/ready"
        interval = "5s"
        timeout  = "2s"
      }
    }

    service {
      name     = "alertmanager"
      provider = "consul"
      port     = "alertmanager"
      tags     = ["botpool"]

      check {
        name     = "alertmanager-ready"
        type     = "http"
        path     = "/-/ready"
        interval = "5s"
        timeout  = "2s"
      }
    }

    task "prometheus" {
      driver = var.driver

      dynamic "config" {
        for_each = var.driver == "docker" ? [1] : []
        content {
          image = var.prometheus_image
          ports = ["prometheus"]
          args = [
            "--config.file=/local/prometheus.yml",
            "--storage.tsdb.path=${local.data_dir}/prometheus",
            "--web.listen-address=${local.listen_ip}:${NOMAD_PORT_prometheus}",
          ]
        }
      }

      dynamic "config" {
        for_each = var.driver == "raw_exec" ? [1] : []
        content {
          command = var.prometheus_bin
          args = [
            "--config.file=${NOMAD_TASK_DIR}/prometheus.yml",
            "--storage.tsdb.path=${local.data_dir}/prometheus",
            "--web.listen-address=${local.listen_ip}:${NOMAD_PORT_prometheus}",
          ]
        }
      }

      # The template's Consul token comes from this task's workload identity
      # (binding rule for job monitoring: policy botpool-monitoring).
      consul {}

      template {
        destination     = "local/prometheus.yml"
        data            = var.prometheus_config
        left_delimiter  = local.static_left
        right_delimiter = local.static_right
        change_mode     = "signal"
        change_signal   = "SIGHUP"
      }

      template {
        destination     = "local/rules/botpool.rules.yml"
        data            = var.alert_rules
        left_delimiter  = local.static_left
        right_delimiter = local.static_right
        change_mode     = "signal"
        change_signal   = "SIGHUP"
      }

      # What Prometheus scrapes: every instance (healthy or not, so a dead one shows as down) of every
      # Consul service tagged "metrics", at its meta metrics_path (default /metrics), labelled with its
      # service, node and, for Nomad's, its allocation.
      template {
        destination = "local/targets/botpool.yml"
        change_mode = "noop"
        data        = <<-EOT
          # Rendered by Nomad from Consul's catalog: the services tagged "metrics" (jobs/monitoring.nomad.hcl).
          {{- range services }}{{ if .Tags | contains "metrics" }}{{ range service (print .Name "|any") }}{{ if .Tags | contains "metrics" }}
          - targets: ["{{ .Address }}:{{ .Port }}"]
            labels:
              __metrics_path__: "{{ or .ServiceMeta.metrics_path "/metrics" }}"
              service: "{{ .Name }}"
              node: "{{ .Node }}"
          {{- with .ServiceMeta.alloc_id }}
              alloc_id: "{{ . }}"
          {{- end }}
          {{- end }}{{ end }}{{ end }}{{ end }}
        EOT
      }

      # Where Prometheus sends alerts: the Alertmanager registered in Consul (this job's own).
      template {
        destination = "local/alertmanagers.yml"
        change_mode = "noop"
        data        = <<-EOT
          # Rendered by Nomad from Consul's catalog: the service "alertmanager" (jobs/monitoring.nomad.hcl).
          {{- range service "alertmanager|any" }}
          - targets: ["{{ .Address }}:{{ .Port }}"]
          {{- end }}
        EOT
      }

      kill_signal  = "SIGTERM"
      kill_timeout = "30s"

      resources {
        cpu    = 200
        memory = 512
      }
    }

    task "alertmanager" {
      driver = var.driver

      dynamic "config" {
        for_each = var.driver == "docker" ? [1] : []
        content {
          image = var.alertmanager_image
          ports = ["alertmanager"]
          args = [
            "--config.file=/local/alertmanager.yml",
            "--storage.path=${local.data_dir}/alertmanager",
            "--web.listen-address=${local.listen_ip}:${NOMAD_PORT_alertmanager}",
            "--cluster.listen-address=",
          ]
        }
      }

      dynamic "config" {
        for_each = var.driver == "raw_exec" ? [1] : []
        content {
          command = var.alertmanager_bin
          args = [
            "--config.file=${NOMAD_TASK_DIR}/alertmanager.yml",
            "--storage.path=${local.data_dir}/alertmanager",
            "--web.listen-address=${local.listen_ip}:${NOMAD_PORT_alertmanager}",
            # One instance: no gossip cluster (and no port 9094 taken).
            "--cluster.listen-address=",
          ]
        }
      }

      template {
        destination     = "local/alertmanager.yml"
        data            = replace(var.alertmanager_config, local.webhook_placeholder, var.operator_webhook_url)
        left_delimiter  = local.static_left
        right_delimiter = local.static_right
        change_mode     = "signal"
        change_signal   = "SIGHUP"
      }

      kill_signal  = "SIGTERM"
      kill_timeout = "10s"

      resources {
        cpu    = 100
        memory = 128
      }
    }
  }
}
