// Command k8s-provisioner turns kubernetes workspace events into Workspace
// resources and reports their status to the orchestrator.
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

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/flagenv"
	"aileron.dev/services/k8s-provisioner/internal/controller"
	"aileron.dev/services/k8s-provisioner/internal/provisioner"
)

// Config is the k8s-provisioner configuration.
type Config struct {
	NATSURL, NATSCreds string
	Replicas           int
	Provisioner        provisioner.Config
	HealthAddr         string
	LogLevel           string
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.NATSURL == "" {
		return errors.New("--nats-url is required")
	}
	return c.Provisioner.Validate()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "k8s-provisioner:", err)
		os.Exit(1)
	}
}

func parse(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("k8s-provisioner", flag.ContinueOnError)
	fs.StringVar(&c.NATSURL, "nats-url", flagenv.String("AILERON_NATS_URL", "nats://127.0.0.1:4222"), "NATS URL(s)")
	fs.StringVar(&c.NATSCreds, "nats-creds", flagenv.String("AILERON_NATS_CREDS", ""), "NATS credentials file")
	fs.IntVar(&c.Replicas, "replicas", 1, "JetStream stream and bucket replicas; must match the api's")
	fs.StringVar(&c.Provisioner.Namespace, "namespace", flagenv.String("AILERON_WORKSPACE_NAMESPACE", "aileron-workspaces"), "namespace of the Workspace resources")
	fs.DurationVar(&c.Provisioner.ResyncInterval, "resync", 5*time.Minute, "re-apply every workspace and sweep orphans this often")
	fs.StringVar(&c.Provisioner.Images.Runtime, "image-runtime", flagenv.String("AILERON_IMAGE_RUNTIME", "aileron/workspace-stub:dev"), "runtime image")
	fs.StringVar(&c.Provisioner.Images.Terminal, "image-terminal", flagenv.String("AILERON_IMAGE_TERMINAL", "aileron/workspace-stub:dev"), "terminal image")
	fs.StringVar(&c.Provisioner.Images.Browser, "image-browser", flagenv.String("AILERON_IMAGE_BROWSER", "aileron/workspace-stub:dev"), "browser (chrome) image")
	fs.StringVar(&c.Provisioner.Images.Canvas, "image-canvas", flagenv.String("AILERON_IMAGE_CANVAS", "aileron/workspace-stub:dev"), "canvas image")
	fs.StringVar(&c.Provisioner.StorageSize, "storage-size", flagenv.String("AILERON_STORAGE_SIZE", ""), "workspace volume size (default: the CRD's 10Gi)")
	fs.StringVar(&c.Provisioner.StorageClassName, "storage-class", flagenv.String("AILERON_STORAGE_CLASS", ""), "workspace volume storage class (default: the cluster's)")
	defaults := fs.String("workspace-defaults-file", flagenv.String("AILERON_WORKSPACE_DEFAULTS_FILE", ""), "JSON file of workspace defaults (services' images and resources, storage) overriding the image and storage flags")
	fs.StringVar(&c.HealthAddr, "health-probe-bind-address", ":8081", "serves /healthz and /readyz")
	fs.StringVar(&c.LogLevel, "log-level", flagenv.String("AILERON_LOG_LEVEL", "info"), "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if *defaults != "" {
		if err := c.Provisioner.LoadDefaults(*defaults); err != nil {
			return c, err
		}
	}
	return c, c.Validate()
}

func run(ctx context.Context, args []string) error {
	c, err := parse(args)
	if err != nil {
		return err
	}
	log, err := bus.Logger(c.LogLevel, true)
	if err != nil {
		return err
	}
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))
	nc, js, err := bus.Open(ctx, c.NATSURL, "aileron-k8s-provisioner", c.NATSCreds, c.Replicas)
	if err != nil {
		return err
	}
	defer nc.Close()
	restCfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubernetes config: %w", err)
	}
	scheme, err := controller.Scheme()
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: c.HealthAddr,
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{c.Provisioner.Namespace: {}}},
	})
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	// Two parts under one manager: the reporter is a controller of it, the
	// event consumer a runnable it starts and stops.
	reporter, err := provisioner.NewReporter(ctx, c.Provisioner.Namespace, mgr.GetClient(), js)
	if err != nil {
		return err
	}
	if err := reporter.SetupWithManager(mgr); err != nil {
		return err
	}
	p, err := provisioner.New(ctx, c.Provisioner, mgr.GetClient(), js, reporter, log)
	if err != nil {
		return err
	}
	if err := mgr.Add(manager.RunnableFunc(p.Run)); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
