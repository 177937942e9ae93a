package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/config"
	"aileron.dev/pkg/metrics"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/auth"
	"aileron.dev/services/api/frontdoor"
	"aileron.dev/services/api/gateway"
	"aileron.dev/services/api/orchestrator"
	"aileron.dev/services/api/server"
	"aileron.dev/services/api/ui"
	dockerprov "aileron.dev/services/docker-provisioner/provisioner"
	"aileron.dev/services/firewall/firewall"
)

// devConfig is the configuration of `aileron dev`.
type devConfig struct {
	DataDir  string
	HTTPAddr string
	GRPCAddr string
	NATSHost string
	NATSPort int
	NATSSync string
	Log      config.Log
	Docker   string
	// DockerConfig is the docker provisioner's config file; its
	// AILERON_DOCKER_* variables override it as in the docker-provisioner.
	DockerConfig string
	Auth         auth.Flags
	FrontDoor    frontdoor.Config
	Protection   gateway.Protection
	// Metrics serves every service's Prometheus metrics at /metrics on the
	// REST address.
	Metrics bool
	// Trace prints the span tree of every finished request that reached
	// the provisioner on traceOut (stderr); Tracing exports spans by OTLP.
	Trace    bool
	Tracing  telemetry.Config
	traceOut io.Writer
	// ready, when set, is told the REST address once every service runs.
	ready func(restAddr string)
}

func (c devConfig) Validate() error {
	if c.Docker != "auto" && c.Docker != "on" && c.Docker != "off" {
		return fmt.Errorf("--docker %q: want auto, on or off", c.Docker)
	}
	if c.DataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	if _, _, err := bus.ParseSync(c.NATSSync); err != nil {
		return err
	}
	return errors.Join(c.Log.Validate(), c.FrontDoor.Validate(), c.Protection.Validate())
}

func parseDev(args []string, stderr io.Writer) (devConfig, error) {
	// People read the log of `aileron dev`: text by default.
	c := devConfig{Log: config.Log{Level: slog.LevelInfo, Format: config.FormatText}}
	fs := config.NewSet("aileron dev", config.Prefix)
	fs.SetOutput(stderr)
	fs.StringVar(&c.DataDir, "data-dir", ".aileron", "directory for JetStream data")
	fs.StringVar(&c.HTTPAddr, "http", "127.0.0.1:3001", "REST listen address")
	fs.StringVar(&c.GRPCAddr, "grpc", "127.0.0.1:9090", "gRPC listen address")
	fs.StringVar(&c.NATSHost, "nats-host", "127.0.0.1", "embedded NATS listen host")
	fs.IntVar(&c.NATSPort, "nats-port", 0, "embedded NATS port for outside consumers, which need the token in <data-dir>/nats.url (-1 picks a free one; 0: no TCP listener, in-process only)")
	fs.StringVar(&c.NATSSync, "nats-sync", "always", `JetStream fsync: "always" (no acknowledged write lost on power loss) or an interval like "2m"`)
	c.Log.Register(fs)
	fs.StringVar(&c.Docker, "docker", "auto", `run the docker provisioner: "auto" (when the Docker socket answers), "on" or "off"; its settings come from --docker-config and AILERON_DOCKER_* (services/docker-provisioner/README.md)`)
	fs.StringVar(&c.DockerConfig, "docker-config", "", "JSON config file of the docker provisioner")
	c.Auth.Register(fs.FlagSet)
	c.FrontDoor.Register(fs.FlagSet)
	c.Protection.Register(fs.FlagSet)
	fs.BoolVar(&c.Metrics, "metrics", true, "serve every service's Prometheus metrics at /metrics on the REST address (docs/metrics.md)")
	fs.BoolVar(&c.Trace, "trace", false, "print the span tree of each create, start, stop or delete on stderr once it finished (docs/tracing.md)")
	c.Tracing.Register(fs)
	c.traceOut = stderr
	// Named before the rule that derives names from flags.
	fs.SetEnv("http", "AILERON_HTTP_ADDR")
	fs.SetEnv("grpc", "AILERON_GRPC_ADDR")
	err := fs.Parse(args)
	if err == nil {
		err = c.Validate()
	}
	return c, err
}

func runDev(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, err := parseDev(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "aileron dev:", err)
		return 2
	}
	log := cfg.Log.Logger(stderr)
	if err := dev(ctx, cfg, log); err != nil {
		log.Error("aileron dev failed", "err", err)
		return 1
	}
	return 0
}

func dev(ctx context.Context, cfg devConfig, log *slog.Logger) error {
	stopTracing, err := startTracing(ctx, cfg)
	if err != nil {
		return err
	}
	defer stopTracing()
	ns, err := startNATS(cfg, log)
	if err != nil {
		return err
	}
	defer ns.stop()

	// One connection for every service of this process, allowed everything:
	// the embedded server has no users (bus.Roles) because nothing but this
	// process (and the token holder of --nats-port) can reach it, and the
	// services share its memory anyway.
	nc, js, err := bus.Connect(ns.url, "aileron-dev", ns.opts...)
	if err != nil {
		return err
	}
	defer nc.Close()
	if err := bus.Setup(ctx, js, bus.SetupConfig{Replicas: 1}); err != nil {
		return err
	}
	authn, limiter, err := cfg.Auth.Build(cfg.HTTPAddr, cfg.GRPCAddr)
	if err != nil {
		return err
	}
	oc := orchestrator.DefaultConfig()
	oc.Provisioners = []workspace.Provisioner{workspace.ProvisionerDocker}
	oc.MaxWorkspacesPerOwner = cfg.Auth.MaxWorkspaces
	sc := server.Config{HTTPAddr: cfg.HTTPAddr, GRPCAddr: cfg.GRPCAddr, Orchestrator: oc,
		Access: orchestrator.AccessPolicy{FirewallAdminOnly: cfg.Auth.FirewallAdminOnly}, UI: ui.Handler(),
		FrontDoor: &cfg.FrontDoor, Protection: cfg.Protection}
	sc.Secure(auth.NewGuard(authn, limiter, js, log).WithWatchCap(cfg.Auth.MaxWatches))
	var reg *prometheus.Registry // one registry: every service's metrics on one page
	if cfg.Metrics {
		reg = metrics.NewRegistry()
		sc.Metrics, sc.MetricsOnREST = reg, true
	}
	api, err := server.Start(ctx, sc, js, log)
	if err != nil {
		return err
	}
	fw, err := firewall.New(ctx, firewall.Config{Defaults: firewall.BuiltinDefaults(), ResyncInterval: time.Minute}, js, log.With("service", "firewall"))
	if err != nil {
		return err
	}
	if err := fw.RegisterMetrics(registerer(reg)); err != nil {
		return err
	}
	var g errgroup.Group
	g.Go(func() error { return fw.Run(ctx) })
	if err := startDocker(ctx, cfg, &g, js, registerer(reg), log.With("service", "docker-provisioner")); err != nil {
		return err
	}
	if authn.Open() {
		log.Warn("NO AUTHENTICATION: aileron dev serves every local user of this machine (a single-user convenience); on a shared host pass --tokens-file (or --oidc-issuer) to require tokens", "rest", api.HTTPAddr, "grpc", api.GRPCAddr)
	}
	if cfg.ready != nil {
		cfg.ready(api.HTTPAddr)
	}
	<-ctx.Done()
	log.Info("shutting down")
	return errors.Join(g.Wait(), api.Wait())
}

// startDocker runs the docker provisioner in the group when Docker is
// reachable (or required).
func startDocker(ctx context.Context, cfg devConfig, g *errgroup.Group, js jetstream.JetStream, reg prometheus.Registerer, log *slog.Logger) error {
	if cfg.Docker == "off" {
		return nil
	}
	if !dockerprov.Available(ctx) {
		if cfg.Docker == "on" {
			return errors.New("--docker=on but the Docker engine does not answer")
		}
		log.Warn("the Docker engine does not answer: docker workspaces will fail at their creating deadline")
		return nil
	}
	dc, err := dockerprov.LoadConfig(cfg.DockerConfig, os.Getenv)
	if err != nil {
		return err
	}
	cli, err := dockerprov.NewDockerClient()
	if err != nil {
		return err
	}
	p, err := dockerprov.New(dc, cli, js, log)
	if err != nil {
		return err
	}
	if err := p.RegisterMetrics(reg); err != nil {
		return err
	}
	g.Go(func() error { return p.Run(ctx) })
	return nil
}

// registerer is reg, or nil (register nothing) when metrics are off: a nil
// *Registry in the interface would not be nil.
func registerer(reg *prometheus.Registry) prometheus.Registerer {
	if reg == nil {
		return nil
	}
	return reg
}
