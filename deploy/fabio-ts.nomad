# fabio-ts as a Nomad system job: one instance on every client node, host networking, listening on
# the node's own ports. Consul is the node-local agent (127.0.0.1:8500).
#
#   nomad job run deploy/fabio-ts.nomad
#
# The task runs the npm package with Node 20 installed on the clients (raw_exec); switch to the
# docker or exec driver with an image that contains node and fabio-ts if your cluster forbids raw_exec.
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
      driver = "raw_exec"

      config {
        command = "fabio-ts"
        args = [
          "-cfg", "${NOMAD_TASK_DIR}/fabio.properties",
        ]
      }

      template {
        destination = "local/fabio.properties"
        data        = <<EOT
proxy.addr = :9999;proto=http,:9997;proto=tcp,:9996;proto=tcp+sni
ui.addr = :9998
registry.backend = consul
registry.consul.addr = 127.0.0.1:8500
registry.consul.register.addr = {{ env "NOMAD_IP_admin" }}:9998
log.access.target = stdout
log.access.format = common
log.level = INFO
proxy.shutdownwait = 10s
proxy.deregistergraceperiod = 5s
metrics.target = prometheus
EOT
      }

      # Give in-flight requests time to finish: deregistergraceperiod + shutdownwait + margin.
      kill_timeout = "20s"
      kill_signal  = "SIGTERM"

      service {
        name = "fabio-ts-admin"
        port = "admin"
        check {
          type     = "http"
          path     = "/health"
          interval = "5s"
          timeout  = "2s"
        }
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
