# fabio-ts as a Nomad system job: one instance on every client node, host networking, the listeners
# on the node's own ports, Consul the node-local agent (127.0.0.1:8500).
#
#   nomad job run -var 'fabio_ts_url=https://releases.example.com/fabio-ts/0.1.0/fabio-ts-linux-x64' \
#     deploy/fabio-ts.nomad
#
# The task fetches the single executable (`npm run binary` builds release/fabio-ts-linux-x64; publish
# it where the clients can download it) and runs it with the exec driver: no Node, no npm, nothing
# else on the node. For the docker driver, see the variant at the end of this file.
#
# The admin port (UI and API, read-write: anyone who reaches it can edit the routing table) listens on
# 127.0.0.1 only. Reach it through an SSH tunnel to the node:
#   ssh -L 9998:127.0.0.1:9998 <node>   then open http://127.0.0.1:9998/
# Consul's health check runs on the node, so it still reaches /health.

variable "fabio_ts_url" {
  type        = string
  description = "URL of the fabio-ts executable for the clients' platform (release/fabio-ts-linux-x64)"
}

variable "workers" {
  type        = number
  default     = 2
  description = "proxy.workers: worker processes serving the listeners; memory is reserved to match"
  validation {
    condition     = var.workers >= 1
    error_message = "Set workers explicitly (>= 1): 0 means one per CPU, which the memory reservation cannot follow."
  }
}

job "fabio-ts" {
  datacenters = ["dc1"]
  type        = "system"

  update {
    max_parallel = 1
    stagger      = "30s"
  }

  group "fabio-ts" {
    network {
      mode = "host"
      port "http"  { static = 9999 }
      port "tcp"   { static = 9997 }
      port "sni"   { static = 9996 }
      port "admin" { static = 9998 }
    }

    task "fabio-ts" {
      driver = "exec"

      # In production pin the file: options { checksum = "sha256:<hex>" } (npm run binary prints it and
      # writes release/fabio-ts-linux-x64.sha256).
      artifact {
        source      = var.fabio_ts_url
        destination = "local/fabio-ts"
        mode        = "file"
      }

      # A downloaded file is not executable: set the bit, then become the proxy (exec keeps the pid,
      # so kill_signal reaches fabio-ts itself).
      config {
        command = "/bin/sh"
        args    = ["-c", "chmod 0755 local/fabio-ts && exec local/fabio-ts -cfg local/fabio.properties"]
      }

      template {
        destination = "local/fabio.properties"
        data        = <<EOT
proxy.addr = :9999;proto=http,:9997;proto=tcp,:9996;proto=tcp+sni
proxy.workers = ${var.workers}
# Admin UI/API on the loopback only (see the top of the job for how to reach it).
ui.addr = 127.0.0.1:9998
ui.access = rw
registry.backend = consul
registry.consul.addr = 127.0.0.1:8500
# Consul checks this address; the agent runs on the node, so the loopback is right.
registry.consul.register.addr = 127.0.0.1:9998
log.access.target = stdout
log.access.format = common
log.level = INFO
proxy.shutdownwait = 10s
proxy.deregistergraceperiod = 5s
metrics.target = prometheus
EOT
      }

      # Time for in-flight requests: deregistergraceperiod + shutdownwait + margin.
      kill_timeout = "20s"
      kill_signal  = "SIGTERM"

      service {
        name    = "fabio-ts-admin"
        port    = "admin"
        address = "127.0.0.1"
        check {
          type     = "http"
          path     = "/health"
          interval = "5s"
          timeout  = "2s"
        }
      }

      resources {
        cpu = 1000
        # About 80 MB per process: the primary (registry watch, admin server) plus one per worker.
        memory = 80 * (var.workers + 1)
      }
    }
  }
}

# Variant: the docker driver with the image built from the repository's Containerfile
#   podman build -f Containerfile -t registry.example.com/fabio-ts:0.1.0 .   (or docker build)
# Replace the task's driver, artifact and config with:
#
#   driver = "docker"
#   config {
#     image        = "registry.example.com/fabio-ts:0.1.0"
#     network_mode = "host"
#     args         = ["-cfg", "/local/fabio.properties"]
#   }
#
# (inside a container the task directory's local/ is mounted at /local). Keep the template,
# service, resources and kill settings as they are; with network_mode = "host" the admin port stays on
# the node's loopback.
