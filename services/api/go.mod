module aileron.dev/services/api

go 1.26
