// Command workspace-operator reconciles Workspace resources into their
// Deployments, Services, volume claims and CiliumNetworkPolicies.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"aileron.dev/services/k8s-provisioner/internal/controller"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "workspace-operator:", err)
		os.Exit(1)
	}
}

// Config is the workspace-operator configuration.
type Config struct {
	// Namespace limits the operator to the Workspaces of one namespace; empty
	// watches every namespace.
	Namespace string
	// LeaderElect runs the controllers only in the replica holding the Lease.
	LeaderElect bool
	// Workers is how many Workspaces are reconciled concurrently.
	Workers int
	// LeaderElectionNamespace holds the Lease; empty means the operator's own
	// namespace when it runs in a cluster.
	LeaderElectionNamespace string
	// MetricsBindAddress serves Prometheus metrics; "0" turns them off.
	MetricsBindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz; empty turns them off.
	HealthProbeBindAddress string
	// DefaultsConfigMap holds the system default allowed domains; an empty
	// Name means none.
	DefaultsConfigMap types.NamespacedName
	// SyncPeriod is how often every Workspace is reconciled even when nothing
	// changed.
	SyncPeriod time.Duration
	// LogLevel is the lowest level logged.
	LogLevel slog.Level
}

// envPrefix and the flag name make the environment variable that sets a flag
// the command line leaves out: --leader-election-namespace is
// AILERON_LEADER_ELECTION_NAMESPACE.
const envPrefix = "AILERON_"

// envNames are the environment variables whose name does not follow from the
// flag's: the namespace one is shared with k8s-provisioner, and the ConfigMap
// one says what the ConfigMap holds among all AILERON_* settings.
var envNames = map[string]string{
	"namespace":          "AILERON_WORKSPACE_NAMESPACE",
	"defaults-configmap": "AILERON_FIREWALL_DEFAULTS_CONFIGMAP",
}

func envName(flagName string) string {
	if e, ok := envNames[flagName]; ok {
		return e
	}
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parse reads the configuration from args, then from the AILERON_*
// environment for flags args leaves out; a flag on the command line wins.
func parse(args []string, getenv func(string) string) (Config, error) {
	c := Config{}
	var cm string
	fs := flag.NewFlagSet("workspace-operator", flag.ContinueOnError)
	fs.StringVar(&c.Namespace, "namespace", "", "namespace of the Workspaces to reconcile; empty for every namespace")
	fs.BoolVar(&c.LeaderElect, "leader-elect", true, "run the controllers only in the replica that holds the Lease")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader Lease (default: the operator's own)")
	fs.StringVar(&c.MetricsBindAddress, "metrics-bind-address", ":8080", `address of the Prometheus metrics endpoint; "0" turns it off`)
	fs.StringVar(&c.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "address of /healthz and /readyz; empty turns them off")
	fs.StringVar(&cm, "defaults-configmap", "", "[namespace/]name of the ConfigMap of system default allowed domains (keys workspace, browser); "+
		"a bare name is looked up in $POD_NAMESPACE, else --leader-election-namespace")
	// The Helm chart passes the longer name.
	fs.StringVar(&cm, "firewall-defaults-configmap", "", "alias of --defaults-configmap")
	fs.IntVar(&c.Workers, "workers", 4, "Workspaces reconciled concurrently")
	fs.DurationVar(&c.SyncPeriod, "sync-period", 10*time.Minute, "reconcile every Workspace this often even when nothing changed")
	fs.TextVar(&c.LogLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "firewall-defaults-configmap" {
			f.Usage += " (env " + envName(f.Name) + ")"
		}
	})
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := applyEnv(fs, getenv); err != nil {
		return c, err
	}
	ref, err := parseObjectRef(cm, getenv("POD_NAMESPACE"), c.LeaderElectionNamespace)
	if err != nil {
		return c, err
	}
	c.DefaultsConfigMap = ref
	return c, c.Validate()
}

// applyEnv sets every flag missing from the command line whose environment
// variable is set, through the flag's own parser so a malformed value is an
// error rather than a silent default.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["firewall-defaults-configmap"] {
		given["defaults-configmap"] = true
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || f.Name == "firewall-defaults-configmap" {
			return
		}
		// An empty variable counts as unset, as in the other services.
		e := envName(f.Name)
		v := getenv(e)
		if v == "" {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", e, v, err))
		}
	})
	return errors.Join(errs...)
}

// parseObjectRef reads "namespace/name" or a bare "name", which takes the
// first non-empty fallback namespace.
func parseObjectRef(s string, fallbacks ...string) (types.NamespacedName, error) {
	if s == "" {
		return types.NamespacedName{}, nil
	}
	ns, name, ok := strings.Cut(s, "/")
	if !ok {
		ns, name = "", s
		for _, f := range fallbacks {
			if f != "" {
				ns = f
				break
			}
		}
	}
	if strings.Contains(name, "/") {
		return types.NamespacedName{}, fmt.Errorf("--defaults-configmap %q: want namespace/name", s)
	}
	return types.NamespacedName{Namespace: ns, Name: name}, nil
}

// Validate reports the first invalid field, naming its flag.
func (c Config) Validate() error {
	for _, ns := range []struct{ flag, value string }{
		{"--namespace", c.Namespace},
		{"--leader-election-namespace", c.LeaderElectionNamespace},
	} {
		if ns.value != "" {
			if msgs := validation.IsDNS1123Label(ns.value); len(msgs) > 0 {
				return fmt.Errorf("%s %q is not a namespace name: %s", ns.flag, ns.value, strings.Join(msgs, "; "))
			}
		}
	}
	if c.MetricsBindAddress != "0" {
		if _, _, err := net.SplitHostPort(c.MetricsBindAddress); err != nil {
			return fmt.Errorf(`--metrics-bind-address %q: want host:port or "0": %w`, c.MetricsBindAddress, err)
		}
	}
	if c.HealthProbeBindAddress != "" {
		if _, _, err := net.SplitHostPort(c.HealthProbeBindAddress); err != nil {
			return fmt.Errorf("--health-probe-bind-address %q: want host:port or empty: %w", c.HealthProbeBindAddress, err)
		}
	}
	if cm := c.DefaultsConfigMap; cm.Name != "" {
		if cm.Namespace == "" {
			return fmt.Errorf("--defaults-configmap %q has no namespace: write namespace/name or set POD_NAMESPACE", cm.Name)
		}
		if msgs := validation.IsDNS1123Label(cm.Namespace); len(msgs) > 0 {
			return fmt.Errorf("--defaults-configmap namespace %q is not a namespace name: %s", cm.Namespace, strings.Join(msgs, "; "))
		}
		if msgs := validation.IsDNS1123Subdomain(cm.Name); len(msgs) > 0 {
			return fmt.Errorf("--defaults-configmap name %q is not a ConfigMap name: %s", cm.Name, strings.Join(msgs, "; "))
		}
	}
	if c.SyncPeriod <= 0 {
		return fmt.Errorf("--sync-period %s must be positive", c.SyncPeriod)
	}
	if c.Workers < 1 {
		return fmt.Errorf("--workers %d must be at least 1", c.Workers)
	}
	return nil
}

// managerOptions maps the configuration onto the manager's options.
func (c Config) managerOptions() controller.ManagerOptions {
	return controller.ManagerOptions{
		Namespace:               c.Namespace,
		DisableLeaderElection:   !c.LeaderElect,
		LeaderElectionNamespace: c.LeaderElectionNamespace,
		MetricsBindAddress:      c.MetricsBindAddress,
		HealthProbeBindAddress:  c.HealthProbeBindAddress,
		SyncPeriod:              c.SyncPeriod,
		Reconciler:              controller.Config{DefaultsConfigMap: c.DefaultsConfigMap, Workers: c.Workers},
	}
}

// plainLevels names logr's verbosity levels (V(1) is slog level -1, shown
// as "DEBUG+3") plain "DEBUG", the level log pipelines know.
func plainLevels(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok && l < slog.LevelInfo {
			a.Value = slog.StringValue(slog.LevelDebug.String())
		}
	}
	return a
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	c, err := parse(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: c.LogLevel, ReplaceAttr: plainLevels}))
	// controller-runtime logs through logr and client-go (leader election)
	// through klog; both go to the same JSON handler.
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))
	klog.SetSlogLogger(log)

	restCfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubernetes config: %w", err)
	}
	mgr, err := controller.NewManager(restCfg, c.managerOptions())
	if err != nil {
		return err
	}
	log.Info("workspace-operator starting",
		"namespace", c.Namespace, "leader_elect", c.LeaderElect, "leader_election_namespace", c.LeaderElectionNamespace,
		"metrics", c.MetricsBindAddress, "health", c.HealthProbeBindAddress,
		"defaults_configmap", c.DefaultsConfigMap.Name, "defaults_configmap_namespace", c.DefaultsConfigMap.Namespace,
		"sync_period", c.SyncPeriod)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	log.Info("workspace-operator stopped")
	return nil
}
