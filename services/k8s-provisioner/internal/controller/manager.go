package controller

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/fields"
	klabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// ManagerOptions configures the workspace-operator's manager. The zero value
// watches every namespace with leader election on.
type ManagerOptions struct {
	// Namespace limits the operator to one namespace; empty watches all.
	Namespace string
	// DisableLeaderElection turns leader election off (tests, single replica).
	DisableLeaderElection bool
	// LeaderElectionID names the Lease; default "workspace-operator.platform.aileron.io".
	LeaderElectionID string
	// LeaderElectionNamespace holds the Lease; default the in-cluster namespace.
	LeaderElectionNamespace string
	// MetricsBindAddress serves Prometheus metrics; "0" turns them off.
	MetricsBindAddress string
	// HealthProbeBindAddress serves /healthz and /readyz; empty turns them off.
	HealthProbeBindAddress string
	// SyncPeriod is the full resync interval; default 10 minutes.
	SyncPeriod time.Duration
	// SkipNameValidation lets one process build several managers (tests);
	// controller names are otherwise unique per process.
	SkipNameValidation bool
	// Reconciler configures the Workspace reconciler.
	Reconciler Config
	// Metrics receives the operator's own metrics (aileron_workspace_operator_*);
	// nil means controller-runtime's registry, which the metrics endpoint
	// serves with controller-runtime's metrics. That registry is global: a
	// process building several managers gives each a registry of its own.
	Metrics prometheus.Registerer
}

// Scheme returns a scheme with the built-in Kubernetes types and Workspace.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	return s, nil
}

// NewManager builds the workspace-operator: a controller-runtime manager
// with the Workspace reconciler registered. Its caches hold only Aileron's
// children, their pods and the firewall defaults ConfigMap. Start it with mgr.Start.
func NewManager(cfg *rest.Config, o ManagerOptions) (ctrl.Manager, error) {
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	if o.LeaderElectionID == "" {
		o.LeaderElectionID = "workspace-operator.platform.aileron.io"
	}
	if o.SyncPeriod == 0 {
		o.SyncPeriod = 10 * time.Minute
	}
	rc := o.Reconciler.Defaults()
	owned := cache.ByObject{Label: klabels.SelectorFromSet(klabels.Set{v1alpha1.LabelPartOf: v1alpha1.PartOf})}
	byObject := map[client.Object]cache.ByObject{
		&appsv1.Deployment{}:            owned,
		&corev1.Service{}:               owned,
		&corev1.PersistentVolumeClaim{}: owned,
		&networkingv1.NetworkPolicy{}:   owned,
		// Read for the timeline only, and the most numerous: kept without
		// their managed fields.
		&corev1.Pod{}: {Label: owned.Label, Transform: cache.TransformStripManagedFields()},
	}
	if rc.DefaultsConfigMap.Name != "" {
		byObject[&corev1.ConfigMap{}] = cache.ByObject{
			Namespaces: map[string]cache.Config{rc.DefaultsConfigMap.Namespace: {}},
			Field:      fields.OneTermEqualSelector("metadata.name", rc.DefaultsConfigMap.Name),
		}
	}
	copts := cache.Options{ByObject: byObject, SyncPeriod: &o.SyncPeriod}
	if o.Namespace != "" {
		copts.DefaultNamespaces = map[string]cache.Config{o.Namespace: {}}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         copts,
		Client:                        client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		LeaderElection:                !o.DisableLeaderElection,
		LeaderElectionID:              o.LeaderElectionID,
		LeaderElectionNamespace:       o.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		Metrics:                       metricsserver.Options{BindAddress: o.MetricsBindAddress},
		HealthProbeBindAddress:        o.HealthProbeBindAddress,
		Controller:                    config.Controller{SkipNameValidation: &o.SkipNameValidation},
	})
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	r, err := NewWorkspaceReconciler(mgr.GetClient(), mgr.GetRESTMapper(), rc)
	if err != nil {
		return nil, err
	}
	reg := o.Metrics
	if reg == nil {
		reg = ctrlmetrics.Registry
	}
	if err := r.RegisterMetrics(reg); err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("set up workspace controller: %w", err)
	}
	if o.HealthProbeBindAddress != "" {
		if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
			return nil, fmt.Errorf("add health check: %w", err)
		}
		if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
			return nil, fmt.Errorf("add ready check: %w", err)
		}
	}
	return mgr, nil
}
