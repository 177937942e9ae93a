package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"aileron.dev/pkg/metrics"
	"aileron.dev/pkg/workspace"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/kubecall"
)

// Subsystem prefixes the operator's own metrics (aileron_workspace_operator_*).
const Subsystem = "workspace_operator"

// Results of a reconcile pass, the result label of the reconcile metrics.
const (
	resultOK       = "ok"
	resultConflict = "conflict"
	resultError    = "error"
)

// operatorMetrics are the workspace-operator's own metrics, beside
// controller-runtime's (controller_runtime_*, workqueue_*, rest_client_*).
type operatorMetrics struct {
	reconciles        *prometheus.CounterVec
	reconcileTime     *prometheus.HistogramVec
	repairs           *prometheus.CounterVec
	componentFailures *prometheus.CounterVec
	calls             *kubecall.Metrics
}

func newOperatorMetrics() *operatorMetrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: Subsystem, Name: name, Help: help}, labels)
	}
	return &operatorMetrics{
		reconciles: counter("reconciles_total", "Workspace reconcile passes, by result (ok; conflict: lost a write race, retried shortly; error: retried with backoff).", "result"),
		reconcileTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: Subsystem,
			Name: "reconcile_duration_seconds", Help: "Duration of Workspace reconcile passes, by result.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}, []string{"result"}),
		repairs: counter("repairs_total", "Children of a Workspace whose spec had not changed that were written again, by kind and reason (missing: re-created; drift: a field the operator sets was changed).", "kind", "reason"),
		componentFailures: counter("component_failures_total",
			"Workspace components (runtime, terminal, browser, canvas) that turned Failed, by component and reason (ProgressDeadlineExceeded: pods never became available, e.g. a crash loop or an image that cannot be pulled; ReplicaFailure: pods cannot be created).",
			"component", "reason"),
		calls: kubecall.NewMetrics(Subsystem),
	}
}

func (m *operatorMetrics) collectors() []prometheus.Collector {
	return append([]prometheus.Collector{m.reconciles, m.reconcileTime, m.repairs, m.componentFailures}, m.calls.Collectors()...)
}

func (m *operatorMetrics) reconciled(result string, took time.Duration) {
	m.reconciles.WithLabelValues(result).Inc()
	m.reconcileTime.WithLabelValues(result).Observe(took.Seconds())
}

// failed counts the components that are Failed in now and were not in before.
func (m *operatorMetrics) failed(before, now v1alpha1.ServicesStatus, obs observed) {
	for _, s := range workspace.Services {
		if componentOf(now, s).Phase != v1alpha1.ComponentFailed || componentOf(before, s).Phase == v1alpha1.ComponentFailed {
			continue
		}
		reason := "Unknown"
		if dep := obs.pods[podOf(s)]; dep != nil && failureOf(dep) != "" {
			reason = failureOf(dep)
		}
		m.componentFailures.WithLabelValues(string(s), reason).Inc()
	}
}

// RegisterMetrics registers the reconciler's metrics on reg.
func (r *WorkspaceReconciler) RegisterMetrics(reg prometheus.Registerer) error {
	return metrics.Register(reg, append(r.metrics.collectors(), &stateCollector{c: r.client, now: time.Now})...)
}

func componentOf(st v1alpha1.ServicesStatus, s workspace.Service) v1alpha1.ComponentStatus {
	switch s {
	case workspace.ServiceTerminal:
		return st.Terminal
	case workspace.ServiceBrowser:
		return st.Browser
	case workspace.ServiceCanvas:
		return st.Canvas
	}
	return st.Runtime
}
