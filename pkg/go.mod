module aileron.dev/pkg

go 1.26
