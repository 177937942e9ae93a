// Command aileron is the one binary users run: `aileron dev` starts every
// service in one process, and the other subcommands are the CLI client.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: aileron <command> [flags]

commands:
  dev        run every service in one process with an embedded NATS server
  workspace  manage workspaces: create, list, get, stop, start, restart,
             restart-service, delete, watch, open, port-forward, exec,
             shell (alias: ws)
  firewall   show or change a workspace's firewall: get, set
  version    print the version

The client commands talk to the API at --api or $AILERON_API
(default http://localhost:3001); the web console is served there too.

run "aileron <command> -h" for the flags of a command.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "dev":
		return runDev(ctx, args[1:], stderr)
	case "workspace", "ws":
		return runWorkspace(ctx, args[1:], stdin, stdout, stderr)
	case "firewall":
		return runFirewall(ctx, args[1:], stdin, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "aileron: unknown command %q\n\n%s", args[0], usage)
	return 2
}
