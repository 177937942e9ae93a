module aileron.dev/services/docker-provisioner

go 1.26
