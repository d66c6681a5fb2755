# A tiny raw_exec job for the Nomad smoke test: a static HTTP server whose
# service registers in Consul with an HTTP check.
variable "python" {
  type = string
}

job "smoke-echo" {
  type = "service"

  group "web" {
    count = 1

    update {
      min_healthy_time = "1s"
      healthy_deadline = "1m"
    }

    network {
      port "http" {}
    }

    service {
      name     = "smoke-echo"
      provider = "consul"
      port     = "http"

      check {
        type     = "http"
        path     = "/"
        interval = "1s"
        timeout  = "1s"
      }
    }

    task "serve" {
      driver = "raw_exec"

      config {
        command = var.python
        args    = ["-m", "http.server", "${NOMAD_PORT_http}", "--bind", "127.0.0.1"]
      }

      resources {
        cpu    = 50
        memory = 64
      }
    }
  }
}
