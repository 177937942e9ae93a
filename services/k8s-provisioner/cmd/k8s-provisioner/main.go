// Command k8s-provisioner turns kubernetes workspace events into Workspace
// resources and reports their status to the orchestrator.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/config"
	"aileron.dev/pkg/metrics"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/services/k8s-provisioner/internal/controller"
	"aileron.dev/services/k8s-provisioner/internal/provisioner"
)

// Config is the k8s-provisioner configuration.
type Config struct {
	NATS        config.NATS
	Provisioner provisioner.Config
	Health      config.Health
	Log         config.Log
	Trace       telemetry.Config
	// MetricsAddr serves Prometheus metrics at /metrics; "0" turns them off.
	MetricsAddr string
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var metricsErr error
	if c.MetricsAddr != "0" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			metricsErr = fmt.Errorf(`--metrics-bind-address %q: want host:port or "0": %w`, c.MetricsAddr, err)
		}
	}
	return errors.Join(c.NATS.Validate(), c.Log.Validate(), c.Health.Validate(), c.Provisioner.Validate(), metricsErr)
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
	c := Config{NATS: config.DefaultNATS(), Log: config.DefaultLog(), Health: config.Health{Addr: ":8081"}}
	fs := config.NewSet("k8s-provisioner", config.Prefix)
	c.NATS.Register(fs)
	c.Log.Register(fs)
	c.Trace.Register(fs)
	c.Health.Register(fs)
	// controller-runtime's name for it, which the Helm chart passes.
	fs.Alias("health-probe-bind-address", "health-addr")
	fs.StringVar(&c.MetricsAddr, "metrics-bind-address", ":8080", `address of the Prometheus /metrics endpoint (this service's and controller-runtime's metrics); "0" turns it off`)
	fs.Alias("metrics-addr", "metrics-bind-address")
	fs.StringVar(&c.Provisioner.Namespace, "namespace", "aileron-workspaces", "namespace of the Workspace resources")
	fs.DurationVar(&c.Provisioner.ResyncInterval, "resync", 5*time.Minute, "re-apply every workspace and sweep orphans this often")
	fs.StringVar(&c.Provisioner.Images.Runtime, "image-runtime", "aileron/workspace-runtime:dev", "runtime image")
	fs.StringVar(&c.Provisioner.Images.Terminal, "image-terminal", "aileron/workspace-runtime:dev", "terminal image")
	fs.StringVar(&c.Provisioner.Images.Browser, "image-browser", "aileron/workspace-browser:dev", "browser image (Chromium and the browser daemon)")
	fs.StringVar(&c.Provisioner.Images.Canvas, "image-canvas", "aileron/workspace-canvas:dev", "canvas image")
	fs.StringVar(&c.Provisioner.StorageSize, "storage-size", "", "workspace volume size (default: the CRD's 10Gi)")
	fs.StringVar(&c.Provisioner.StorageClassName, "storage-class", "", "workspace volume storage class (default: the cluster's)")
	defaults := fs.String("workspace-defaults-file", "", "JSON file of workspace defaults (services' images and resources, storage) overriding the image and storage flags")
	// Shared with the workspace-operator, which has the same flag.
	fs.SetEnv("namespace", "AILERON_WORKSPACE_NAMESPACE")
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
	log := c.Log.Logger(os.Stderr)
	stopTracing, err := telemetry.Setup(ctx, c.Trace, "aileron-k8s-provisioner")
	if err != nil {
		return err
	}
	defer stopTracing()
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))
	nc, js, err := bus.Open(ctx, c.NATS.URL, bus.RoleK8sProvisioner, c.NATS.Creds, bus.SetupConfig{
		Replicas: c.NATS.Replicas, MaxBytes: c.NATS.StreamMaxBytes, AuditMaxBytes: c.NATS.AuditMaxBytes}, bus.LogErrors(log))
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
		Metrics:                metricsserver.Options{BindAddress: c.MetricsAddr},
		HealthProbeBindAddress: c.Health.Addr,
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
	// The manager's metrics endpoint serves controller-runtime's registry.
	if err := p.RegisterMetrics(ctrlmetrics.Registry); err != nil {
		return err
	}
	if err := metrics.Register(ctrlmetrics.Registry, bus.Collectors(nc)...); err != nil {
		return err
	}
	if err := mgr.Add(manager.RunnableFunc(p.Run)); err != nil {
		return err
	}
	return mgr.Start(ctx)
}
