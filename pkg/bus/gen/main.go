// Command gen writes the chart's copy of every service's NATS permissions
// (deploy/helm/aileron/files/nats-permissions.json) from pkg/bus's roles, so
// the NATS users the chart renders cannot drift from the names the services
// use. `make generate` runs it; a test of pkg/bus fails when the committed
// file differs from what it writes.
//
// Usage: go run ./pkg/bus/gen [-o FILE]
package main

import (
	"flag"
	"fmt"
	"os"

	"aileron.dev/pkg/bus"
)

func main() {
	out := flag.String("o", bus.ChartPermissionsFile, "file to write")
	flag.Parse()
	b, err := bus.ChartPermissions()
	if err == nil {
		err = os.WriteFile(*out, b, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
