module aileron.dev/gen

go 1.26
