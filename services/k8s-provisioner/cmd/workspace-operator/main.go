// Command workspace-operator reconciles Workspace resources into their
// Deployments, Services, volume claims and CiliumNetworkPolicies.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"aileron.dev/pkg/config"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/services/firewall/cilium"
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
	// Health serves /healthz and /readyz; an empty address turns them off.
	Health config.Health
	// DefaultsConfigMap holds the system default allowed domains; an empty
	// Name means none.
	DefaultsConfigMap types.NamespacedName
	// SyncPeriod is how often every Workspace is reconciled even when nothing
	// changed.
	SyncPeriod time.Duration
	// Log is the log level and format.
	Log config.Log
	// Trace exports the reconcile passes' spans (--otlp-endpoint).
	Trace telemetry.Config
	// FrontDoor selects the API's pods, the only pods outside a workspace
	// group its policies let connect to the group's pods.
	FrontDoor cilium.Peer
}

// parse reads the configuration from args, then from the AILERON_*
// environment for flags args leaves out; a flag on the command line wins.
func parse(args []string, getenv func(string) string) (Config, error) {
	c := Config{Log: config.DefaultLog(), Health: config.Health{Addr: ":8081"}}
	var cm, frontDoorLabels string
	fs := config.NewSet("workspace-operator", config.Prefix)
	fs.StringVar(&c.Namespace, "namespace", "", "namespace of the Workspaces to reconcile; empty for every namespace")
	fs.BoolVar(&c.LeaderElect, "leader-elect", true, "run the controllers only in the replica that holds the Lease")
	fs.StringVar(&c.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader Lease (default: the operator's own)")
	fs.StringVar(&c.MetricsBindAddress, "metrics-bind-address", ":8080", `address of the Prometheus metrics endpoint; "0" turns it off`)
	c.Health.Register(fs)
	fs.StringVar(&cm, "defaults-configmap", "", "[namespace/]name of the ConfigMap of system default allowed domains (keys workspace, browser); "+
		"a bare name is looked up in $POD_NAMESPACE, else --leader-election-namespace")
	fs.IntVar(&c.Workers, "workers", 4, "Workspaces reconciled concurrently")
	fs.DurationVar(&c.SyncPeriod, "sync-period", 10*time.Minute, "reconcile every Workspace this often even when nothing changed")
	fs.StringVar(&frontDoorLabels, "front-door-labels", "", "labels of the API's pods (k=v,k=v): besides a workspace group's own pods, the only pods its policies admit; empty admits none")
	fs.StringVar(&c.FrontDoor.Namespace, "front-door-namespace", "", "namespace of the API's pods (default: $POD_NAMESPACE, else --leader-election-namespace)")
	c.Log.Register(fs)
	c.Trace.Register(fs)
	// controller-runtime's name and the Helm chart's longer name.
	fs.Alias("health-probe-bind-address", "health-addr")
	fs.Alias("firewall-defaults-configmap", "defaults-configmap")
	// The namespace one is shared with k8s-provisioner; the ConfigMap one
	// says what the ConfigMap holds among all AILERON_* settings; the health
	// one was named after the flag's earlier name.
	fs.SetEnv("namespace", "AILERON_WORKSPACE_NAMESPACE")
	fs.SetEnv("defaults-configmap", "AILERON_FIREWALL_DEFAULTS_CONFIGMAP")
	fs.SetEnv("health-addr", "AILERON_HEALTH_ADDR", "AILERON_HEALTH_PROBE_BIND_ADDRESS")
	if err := fs.ParseEnv(args, getenv); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	ref, err := parseObjectRef(cm, getenv("POD_NAMESPACE"), c.LeaderElectionNamespace)
	if err != nil {
		return c, err
	}
	c.DefaultsConfigMap = ref
	if frontDoorLabels != "" {
		sel, err := labels.ConvertSelectorToLabelsMap(frontDoorLabels)
		if err != nil {
			return c, fmt.Errorf("--front-door-labels %q: want k=v,k=v: %w", frontDoorLabels, err)
		}
		c.FrontDoor.Labels = map[string]string(sel)
		c.FrontDoor.Namespace = cmp.Or(c.FrontDoor.Namespace, getenv("POD_NAMESPACE"), c.LeaderElectionNamespace)
	}
	return c, c.Validate()
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
	if err := errors.Join(c.Health.Validate(), c.Log.Validate()); err != nil {
		return err
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
	if len(c.FrontDoor.Labels) > 0 && c.FrontDoor.Namespace == "" {
		return errors.New("--front-door-labels needs --front-door-namespace (or POD_NAMESPACE)")
	}
	if ns := c.FrontDoor.Namespace; ns != "" {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			return fmt.Errorf("--front-door-namespace %q is not a namespace name: %s", ns, strings.Join(msgs, "; "))
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
		HealthProbeBindAddress:  c.Health.Addr,
		SyncPeriod:              c.SyncPeriod,
		Reconciler:              controller.Config{DefaultsConfigMap: c.DefaultsConfigMap, Workers: c.Workers, FrontDoor: c.FrontDoor},
	}
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	c, err := parse(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	log := c.Log.Logger(os.Stderr)
	// controller-runtime logs through logr and client-go (leader election)
	// through klog; both go to the same JSON handler.
	ctrl.SetLogger(logr.FromSlogHandler(log.Handler()))
	klog.SetSlogLogger(log)
	stopTracing, err := telemetry.Setup(ctx, c.Trace, "aileron-workspace-operator")
	if err != nil {
		return err
	}
	defer stopTracing()

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
		"metrics", c.MetricsBindAddress, "health", c.Health.Addr,
		"defaults_configmap", c.DefaultsConfigMap.Name, "defaults_configmap_namespace", c.DefaultsConfigMap.Namespace,
		"sync_period", c.SyncPeriod, "front_door_namespace", c.FrontDoor.Namespace, "front_door_labels", c.FrontDoor.Labels,
		"otlp_endpoint", c.Trace.Endpoint)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	log.Info("workspace-operator stopped")
	return nil
}
