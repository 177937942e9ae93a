module aileron.dev/services/firewall

go 1.26
