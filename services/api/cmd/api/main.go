// Command api runs the api service (REST gateway :3001 and gRPC orchestrator
// :9090) against an external NATS JetStream cluster.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/config"
	"aileron.dev/pkg/health"
	"aileron.dev/pkg/metrics"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/auth"
	"aileron.dev/services/api/frontdoor"
	"aileron.dev/services/api/gateway"
	"aileron.dev/services/api/orchestrator"
	"aileron.dev/services/api/server"
)

// Config is the api service configuration (flags, each with an env override).
type Config struct {
	HTTPAddr, GRPCAddr string
	// MetricsAddr serves /metrics; empty: no metrics.
	MetricsAddr      string
	NATS             config.NATS
	Provisioners     string
	CreatingDeadline time.Duration
	Deadline         time.Duration
	Log              config.Log
	Trace            telemetry.Config
	Auth             auth.Flags
	FrontDoor        frontdoor.Config
	Protection       gateway.Protection
}

// Validate checks the configuration.
func (c Config) Validate() error {
	return errors.Join(c.NATS.Validate(), c.Log.Validate(), c.FrontDoor.Validate(), c.Protection.Validate())
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
	c := Config{NATS: config.DefaultNATS(), Log: config.DefaultLog()}
	fs := config.NewSet("api", config.Prefix)
	fs.StringVar(&c.HTTPAddr, "http", ":3001", "REST listen address")
	fs.StringVar(&c.GRPCAddr, "grpc", ":9090", "gRPC listen address")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", ":9102", "address of the Prometheus /metrics endpoint; empty: off")
	c.NATS.Register(fs)
	fs.StringVar(&c.Provisioners, "provisioners", "docker,kubernetes", "enabled provisioners, comma-separated")
	fs.DurationVar(&c.CreatingDeadline, "creating-deadline", 10*time.Minute, "deadline of the creating state")
	fs.DurationVar(&c.Deadline, "deadline", 5*time.Minute, "deadline of the other transitional states")
	c.Log.Register(fs)
	c.Trace.Register(fs)
	c.Auth.Register(fs.FlagSet)
	c.FrontDoor.Register(fs.FlagSet)
	c.Protection.Register(fs.FlagSet)
	// Named before the rule that derives names from flags.
	fs.SetEnv("http", "AILERON_HTTP_ADDR")
	fs.SetEnv("grpc", "AILERON_GRPC_ADDR")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	log := c.Log.Logger(os.Stderr)
	stopTracing, err := telemetry.Setup(ctx, c.Trace, "aileron-api")
	if err != nil {
		return err
	}
	defer stopTracing()
	if host, _, err := net.SplitHostPort(c.HTTPAddr); len(c.Protection.AllowedHosts) == 0 && (err != nil || !isLoopback(host)) {
		log.Warn("no --allowed-hosts: the REST port answers only loopback Host names (and /healthz any)", "http", c.HTTPAddr)
	}
	authn, limiter, err := c.Auth.Build(c.HTTPAddr, c.GRPCAddr)
	if err != nil {
		return err
	}
	nc, js, err := bus.Open(ctx, c.NATS.URL, bus.RoleAPI, c.NATS.Creds, bus.SetupConfig{
		Replicas: c.NATS.Replicas, MaxBytes: c.NATS.StreamMaxBytes, AuditMaxBytes: c.NATS.AuditMaxBytes}, bus.LogErrors(log))
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
		Access: orchestrator.AccessPolicy{FirewallAdminOnly: c.Auth.FirewallAdminOnly}, FrontDoor: &c.FrontDoor, Protection: c.Protection}
	sc.Secure(auth.NewGuard(authn, limiter, js, log).WithWatchCap(c.Auth.MaxWatches))
	var served chan error
	if c.MetricsAddr != "" {
		sc.Metrics = metrics.NewRegistry()
		if err := metrics.Register(sc.Metrics, bus.Collectors(nc)...); err != nil {
			return err
		}
		ln, err := net.Listen("tcp", c.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics endpoint: %w", err)
		}
		served = make(chan error, 1)
		go func() { served <- health.Serve(ctx, ln, metrics.Mux(http.NotFoundHandler(), sc.Metrics)) }()
	}
	s, err := server.Start(ctx, sc, js, log)
	if err != nil {
		return err
	}
	err = s.Wait()
	if served != nil {
		err = errors.Join(err, <-served)
	}
	return err
}

func isLoopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || (ip != nil && ip.IsLoopback())
}
