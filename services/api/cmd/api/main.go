// Command api runs the api service (REST gateway :3001 and gRPC orchestrator
// :9090) against an external NATS JetStream cluster.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/flagenv"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/auth"
	"aileron.dev/services/api/orchestrator"
	"aileron.dev/services/api/server"
)

// Config is the api service configuration (flags, each with an env override).
type Config struct {
	HTTPAddr, GRPCAddr string
	NATSURL            string
	NATSCredsFile      string
	Replicas           int
	Provisioners       string
	CreatingDeadline   time.Duration
	Deadline           time.Duration
	LogLevel           string
	Auth               auth.Flags
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.NATSURL == "" {
		return errors.New("--nats-url is required")
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return errors.New("--replicas must be between 1 and 5")
	}
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	var c Config
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	fs.StringVar(&c.HTTPAddr, "http", flagenv.String("AILERON_HTTP_ADDR", ":3001"), "REST listen address")
	fs.StringVar(&c.GRPCAddr, "grpc", flagenv.String("AILERON_GRPC_ADDR", ":9090"), "gRPC listen address")
	fs.StringVar(&c.NATSURL, "nats-url", flagenv.String("AILERON_NATS_URL", "nats://127.0.0.1:4222"), "NATS URL(s), comma-separated")
	fs.StringVar(&c.NATSCredsFile, "nats-creds", flagenv.String("AILERON_NATS_CREDS", ""), "NATS credentials file")
	fs.IntVar(&c.Replicas, "replicas", 1, "JetStream stream and bucket replicas (3 on a cluster)")
	fs.StringVar(&c.Provisioners, "provisioners", flagenv.String("AILERON_PROVISIONERS", "docker,kubernetes"), "enabled provisioners, comma-separated")
	fs.DurationVar(&c.CreatingDeadline, "creating-deadline", 10*time.Minute, "deadline of the creating state")
	fs.DurationVar(&c.Deadline, "deadline", 5*time.Minute, "deadline of the other transitional states")
	fs.StringVar(&c.LogLevel, "log-level", flagenv.String("AILERON_LOG_LEVEL", "info"), "debug, info, warn or error")
	c.Auth.Register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	log, err := bus.Logger(c.LogLevel, true)
	if err != nil {
		return err
	}
	authn, limiter, err := c.Auth.Build(c.HTTPAddr, c.GRPCAddr)
	if err != nil {
		return err
	}
	nc, js, err := bus.Open(ctx, c.NATSURL, "aileron-api", c.NATSCredsFile, c.Replicas)
	if err != nil {
		return err
	}
	defer nc.Close()
	oc := orchestrator.DefaultConfig()
	oc.Provisioners = nil
	for _, p := range strings.Split(c.Provisioners, ",") {
		oc.Provisioners = append(oc.Provisioners, workspace.Provisioner(p))
	}
	for s := range oc.Deadlines {
		oc.Deadlines[s] = c.Deadline
	}
	oc.Deadlines[workspace.StateCreating] = c.CreatingDeadline
	oc.MaxWorkspacesPerOwner = c.Auth.MaxWorkspaces
	sc := server.Config{HTTPAddr: c.HTTPAddr, GRPCAddr: c.GRPCAddr, Orchestrator: oc,
		Access: orchestrator.AccessPolicy{FirewallAdminOnly: c.Auth.FirewallAdminOnly}}
	sc.Secure(auth.NewGuard(authn, limiter, js, log))
	s, err := server.Start(ctx, sc, js, log)
	if err != nil {
		return err
	}
	return s.Wait()
}
