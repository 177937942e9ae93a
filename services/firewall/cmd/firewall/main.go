// Command firewall runs the firewall policy service against NATS: it computes
// every workspace's effective egress policy and hands it to the provisioners.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/flagenv"
	"aileron.dev/pkg/health"
	"aileron.dev/services/firewall/firewall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "firewall:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("firewall", flag.ContinueOnError)
	natsURL := fs.String("nats-url", flagenv.String("AILERON_NATS_URL", "nats://127.0.0.1:4222"), "NATS URL(s)")
	creds := fs.String("nats-creds", flagenv.String("AILERON_NATS_CREDS", ""), "NATS credentials file")
	defaults := fs.String("defaults-file", flagenv.String("AILERON_FIREWALL_DEFAULTS_FILE", ""), `JSON file {"workspace": [...], "browser": [...]} of system default allowed domains; built-in defaults when empty`)
	resync := fs.Duration("resync", time.Minute, "recompute every policy this often")
	replicas := fs.Int("replicas", 1, "JetStream stream and bucket replicas (3 on a cluster); must match the api's")
	healthAddr := fs.String("health-addr", flagenv.String("AILERON_HEALTH_ADDR", ":8081"), "address of /healthz and /readyz (ready while NATS is connected); empty turns them off")
	level := fs.String("log-level", flagenv.String("AILERON_LOG_LEVEL", "info"), "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *natsURL == "" {
		return errors.New("--nats-url is required")
	}
	log, err := bus.Logger(*level, true)
	if err != nil {
		return err
	}
	cfg := firewall.Config{Defaults: firewall.BuiltinDefaults(), ResyncInterval: *resync}
	if *defaults != "" {
		if cfg.Defaults, err = firewall.LoadDefaults(*defaults); err != nil {
			return err
		}
	}
	nc, js, err := bus.Open(ctx, *natsURL, "aileron-firewall", *creds, *replicas)
	if err != nil {
		return err
	}
	defer nc.Close()
	svc, err := firewall.New(ctx, cfg, js, log)
	if err != nil {
		return err
	}
	return health.Run(ctx, *healthAddr, bus.Ready(nc), svc.Run)
}
