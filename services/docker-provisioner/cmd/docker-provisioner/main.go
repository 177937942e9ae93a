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

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/flagenv"
	"aileron.dev/pkg/health"
	"aileron.dev/services/docker-provisioner/provisioner"
)

// options are the command-line flags; everything else is in the config file.
type options struct {
	configPath  string
	natsURL     string
	logFormat   string
	logLevel    string
	sweepDryRun bool
	setup       bool
	healthAddr  string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("docker-provisioner", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.configPath, "config", flagenv.String("AILERON_DOCKER_CONFIG", ""), "JSON config file (env AILERON_DOCKER_CONFIG); AILERON_DOCKER_* variables override it")
	fs.StringVar(&o.natsURL, "nats", flagenv.String("AILERON_NATS_URL", "nats://127.0.0.1:4222"), "NATS URL (env AILERON_NATS_URL)")
	fs.StringVar(&o.logFormat, "log-format", "json", "json or text")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&o.sweepDryRun, "sweep-dry-run", false, "log orphans instead of removing them")
	fs.BoolVar(&o.setup, "setup", true, "create the JetStream stream and buckets if missing")
	fs.StringVar(&o.healthAddr, "health-addr", flagenv.String("AILERON_HEALTH_ADDR", ""), "address of /healthz and /readyz (ready while NATS is connected and the engine answers); empty: off")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.logFormat != "json" && o.logFormat != "text" {
		return o, fmt.Errorf("--log-format %q: want json or text", o.logFormat)
	}
	return o, nil
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
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintln(stderr, "docker-provisioner: --log-level:", err)
		return 2
	}
	hopts := &slog.HandlerOptions{Level: level}
	log := slog.New(slog.NewJSONHandler(stderr, hopts))
	if o.logFormat == "text" {
		log = slog.New(slog.NewTextHandler(stderr, hopts))
	}
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
	nc, js, err := bus.Connect(o.natsURL, "docker-provisioner")
	if err != nil {
		return err
	}
	defer nc.Close()
	if o.setup {
		if err := bus.Setup(ctx, js, bus.SetupConfig{}); err != nil {
			return err
		}
	}
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
	return health.Run(ctx, o.healthAddr, ready, p.Run)
}
