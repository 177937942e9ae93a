module aileron.dev/services/k8s-provisioner

go 1.26
