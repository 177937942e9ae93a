module aileron.dev/cmd/aileron

go 1.26
