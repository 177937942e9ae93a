// Command docker-provisioner runs Aileron workspaces on the local Docker
// Engine: it consumes docker workspace events from NATS JetStream, converges
// containers, networks, volumes and egress gateways, and reports status.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/config"
	"aileron.dev/pkg/health"
	"aileron.dev/pkg/metrics"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/services/docker-provisioner/provisioner"
)

// options are the command-line flags; everything else is in the config file
// and AILERON_DOCKER_* variables (provisioner.LoadConfig).
type options struct {
	configPath  string
	nats        config.NATS
	log         config.Log
	health      config.Health
	trace       telemetry.Config
	sweepDryRun bool
	setup       bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

func parse(args []string, stderr io.Writer) (options, error) {
	o := options{nats: config.DefaultNATS(), log: config.DefaultLog()}
	fs := config.NewSet("docker-provisioner", config.Prefix)
	fs.SetOutput(stderr)
	fs.StringVar(&o.configPath, "config", "", "JSON config file; AILERON_DOCKER_* variables override it")
	o.nats.Register(fs)
	// --nats was this binary's spelling before every service shared --nats-url.
	fs.Alias("nats", "nats-url")
	fs.Lookup("nats").Usage = "deprecated alias of --nats-url"
	o.log.Register(fs)
	o.health.Register(fs)
	o.trace.Register(fs)
	fs.Lookup("health-addr").Usage = "address of /healthz, /readyz and /metrics (ready while NATS is connected and the engine answers); empty: off"
	fs.BoolVar(&o.sweepDryRun, "sweep-dry-run", false, "log orphans instead of removing them")
	fs.BoolVar(&o.setup, "setup", true, "create the JetStream stream and buckets if missing")
	// This binary's own settings share the AILERON_DOCKER_ prefix of the
	// config file's overrides.
	for _, name := range []string{"config", "sweep-dry-run", "setup"} {
		fs.SetEnv(name, config.EnvName(provisioner.EnvPrefix, name))
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	return o, errors.Join(o.nats.Validate(), o.log.Validate(), o.health.Validate())
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "docker-provisioner:", err)
		return 2
	}
	log := o.log.Logger(stderr)
	cfg, err := provisioner.LoadConfig(o.configPath, os.Getenv)
	if err != nil {
		fmt.Fprintln(stderr, "docker-provisioner:", err)
		return 2
	}
	cfg.SweepDryRun = cfg.SweepDryRun || o.sweepDryRun
	if err := serve(ctx, o, cfg, log); err != nil && ctx.Err() == nil {
		log.Error("docker provisioner failed", "err", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, o options, cfg provisioner.Config, log *slog.Logger) error {
	stopTracing, err := telemetry.Setup(ctx, o.trace, "aileron-docker-provisioner")
	if err != nil {
		return err
	}
	defer stopTracing()
	nc, js, err := connect(ctx, o, log)
	if err != nil {
		return err
	}
	defer nc.Close()
	dc, err := provisioner.NewDockerClient()
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	defer dc.Close()
	p, err := provisioner.New(cfg, dc, js, log)
	if err != nil {
		return err
	}
	natsReady := bus.Ready(nc)
	ready := func() error {
		if err := errors.Join(p.Ready(), natsReady()); err != nil {
			return err
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := dc.Ping(pctx); err != nil {
			return fmt.Errorf("docker engine: %w", err)
		}
		return nil
	}
	reg := metrics.NewRegistry()
	if err := p.RegisterMetrics(reg); err != nil {
		return err
	}
	if err := metrics.Register(reg, bus.Collectors(nc)...); err != nil {
		return err
	}
	return health.RunHandler(ctx, o.health.Addr, metrics.Mux(health.Handler(ready), reg), p.Run)
}

// connect dials NATS and, with --setup, creates the stream and buckets with
// the api's replica count.
func connect(ctx context.Context, o options, log *slog.Logger) (*nats.Conn, jetstream.JetStream, error) {
	if o.setup {
		return bus.Open(ctx, o.nats.URL, bus.RoleDockerProvisioner, o.nats.Creds, bus.SetupConfig{
			Replicas: o.nats.Replicas, MaxBytes: o.nats.StreamMaxBytes, AuditMaxBytes: o.nats.AuditMaxBytes}, bus.LogErrors(log))
	}
	return bus.ConnectAs(o.nats.URL, bus.RoleDockerProvisioner, append(bus.CredsOption(o.nats.Creds), bus.LogErrors(log))...)
}
