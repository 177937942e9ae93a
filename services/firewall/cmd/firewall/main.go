// Command firewall runs the firewall policy service against NATS: it computes
// every workspace's effective egress policy and hands it to the provisioners.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/config"
	"aileron.dev/pkg/health"
	"aileron.dev/pkg/metrics"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/services/firewall/firewall"
)

// Config is the firewall service configuration (flags, each with an env
// override).
type Config struct {
	NATS   config.NATS
	Log    config.Log
	Trace  telemetry.Config
	Health config.Health
	// DefaultsFile holds the system default allowed domains; empty uses the
	// built-in ones.
	DefaultsFile string
	// Resync is how often every policy is recomputed; 0 turns it off.
	Resync time.Duration
}

// Validate names the first flag with a bad value of each group.
func (c Config) Validate() error {
	var errs []error
	if c.Resync < 0 {
		errs = append(errs, fmt.Errorf("--resync %s must not be negative", c.Resync))
	}
	return errors.Join(append(errs, c.NATS.Validate(), c.Log.Validate(), c.Health.Validate())...)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "firewall:", err)
		os.Exit(1)
	}
}

func parse(args []string) (Config, error) {
	c := Config{NATS: config.DefaultNATS(), Log: config.DefaultLog(), Health: config.Health{Addr: ":8081"}}
	fs := config.NewSet("firewall", config.Prefix)
	c.NATS.Register(fs)
	c.Log.Register(fs)
	c.Trace.Register(fs)
	c.Health.Register(fs)
	fs.StringVar(&c.DefaultsFile, "defaults-file", "", `JSON file {"workspace": [...], "browser": [...]} of system default allowed domains; built-in defaults when empty`)
	fs.DurationVar(&c.Resync, "resync", time.Minute, "recompute every policy this often; 0 turns it off")
	// Named before the rule that derives names from flags.
	fs.SetEnv("defaults-file", "AILERON_FIREWALL_DEFAULTS_FILE")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func run(ctx context.Context, args []string) error {
	c, err := parse(args)
	if err != nil {
		return err
	}
	log := c.Log.Logger(os.Stderr)
	stopTracing, err := telemetry.Setup(ctx, c.Trace, "aileron-firewall")
	if err != nil {
		return err
	}
	defer stopTracing()
	cfg := firewall.Config{Defaults: firewall.BuiltinDefaults(), ResyncInterval: c.Resync}
	if c.DefaultsFile != "" {
		if cfg.Defaults, err = firewall.LoadDefaults(c.DefaultsFile); err != nil {
			return err
		}
	}
	nc, js, err := bus.Open(ctx, c.NATS.URL, bus.RoleFirewall, c.NATS.Creds, bus.SetupConfig{
		Replicas: c.NATS.Replicas, MaxBytes: c.NATS.StreamMaxBytes, AuditMaxBytes: c.NATS.AuditMaxBytes}, bus.LogErrors(log))
	if err != nil {
		return err
	}
	defer nc.Close()
	svc, err := firewall.New(ctx, cfg, js, log)
	if err != nil {
		return err
	}
	reg := metrics.NewRegistry()
	if err := svc.RegisterMetrics(reg); err != nil {
		return err
	}
	if err := metrics.Register(reg, bus.Collectors(nc)...); err != nil {
		return err
	}
	return health.RunHandler(ctx, c.Health.Addr, metrics.Mux(health.Handler(bus.Ready(nc)), reg), svc.Run)
}
