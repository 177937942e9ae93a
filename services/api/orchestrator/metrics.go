package orchestrator

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/metrics"
	"aileron.dev/pkg/workspace"
)

// lifecycleMetrics are the orchestrator's lifecycle metrics. They count what
// this replica applied; the workspace gauge is computed at scrape from the
// index, which follows the KV bucket, so it is right after a restart and the
// same on every replica.
type lifecycleMetrics struct {
	transitions   *prometheus.CounterVec
	failures      *prometheus.CounterVec
	toRunning     *prometheus.HistogramVec
	toStopped     *prometheus.HistogramVec
	toDeleted     *prometheus.HistogramVec
	firewall      *prometheus.CounterVec
	firewallDelay *prometheus.HistogramVec
}

func newLifecycleMetrics() *lifecycleMetrics {
	h := func(name, help string, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "workspace",
			Name: name, Help: help, Buckets: metrics.DurationBuckets}, labels)
	}
	return &lifecycleMetrics{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "workspace",
			Name: "transitions_total", Help: "Workspace state transitions applied, by provisioner and from/to state (to=\"deleted\" when the record is removed)."},
			[]string{"provisioner", "from", "to"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "workspace",
			Name: "failures_total", Help: "Workspaces that became failed, by provisioner and error code (DEADLINE_EXCEEDED for a missed deadline)."},
			[]string{"provisioner", "code"}),
		toRunning: h("time_to_running_seconds", "Time from the request (create, start, restart) to running, by provisioner and the transitional state it left.", "provisioner", "from"),
		toStopped: h("time_to_stopped_seconds", "Time from the stop request to stopped, by provisioner.", "provisioner"),
		toDeleted: h("time_to_deleted_seconds", "Time from the delete request to the record's removal, by provisioner.", "provisioner"),
		firewall: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metrics.Namespace, Subsystem: "firewall",
			Name: "policy_applies_total", Help: "Firewall settings revisions that reached a final phase (applied or degraded), by provisioner and phase."},
			[]string{"provisioner", "phase"}),
		firewallDelay: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metrics.Namespace, Subsystem: "firewall",
			Name: "time_to_applied_seconds", Help: "Time from a firewall settings revision (create or update) to its enforcer's applied report, by provisioner.",
			Buckets: metrics.DurationBuckets}, []string{"provisioner"}),
	}
}

// RegisterMetrics registers the orchestrator's metrics on reg: the lifecycle
// counters and histograms, workspaces by state and provisioner, and the open
// watch streams.
func (o *Orchestrator) RegisterMetrics(reg prometheus.Registerer) error {
	m := o.metrics
	return metrics.Register(reg, m.transitions, m.failures, m.toRunning, m.toStopped, m.toDeleted, m.firewall, m.firewallDelay,
		&stateCollector{index: o.index},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: metrics.Namespace, Subsystem: "api",
			Name: "watch_streams_open", Help: "Watch streams (gRPC and REST) open on this replica."},
			func() float64 { return float64(o.index.Watchers()) }))
}

// transition records a state change of w from (with the deadline it had
// there) at now.
func (m *lifecycleMetrics) transition(from string, fromDeadline time.Time, w *workspacev1.Workspace, deadlines map[workspace.State]time.Duration, now time.Time) {
	if from == w.State {
		return
	}
	p := w.Provisioner
	m.transitions.WithLabelValues(p, from, w.State).Inc()
	// A transitional state was entered its deadline before the deadline.
	began := fromDeadline.Add(-deadlines[workspace.State(from)])
	switch to := workspace.State(w.State); {
	case to == workspace.StateFailed:
		m.failures.WithLabelValues(p, w.ErrorCode).Inc()
	case to == workspace.StateRunning && from == string(workspace.StateCreating) && w.CreateTime != nil:
		m.toRunning.WithLabelValues(p, from).Observe(now.Sub(w.CreateTime.AsTime()).Seconds())
	case to == workspace.StateRunning && (from == string(workspace.StateStarting) || from == string(workspace.StateRestarting)) && !fromDeadline.IsZero():
		m.toRunning.WithLabelValues(p, from).Observe(now.Sub(began).Seconds())
	case to == workspace.StateStopped && from == string(workspace.StateStopping) && !fromDeadline.IsZero():
		m.toStopped.WithLabelValues(p).Observe(now.Sub(began).Seconds())
	}
}

// deleted records the removal of a deleting workspace's record.
func (m *lifecycleMetrics) deleted(w *workspacev1.Workspace, deadlines map[workspace.State]time.Duration, now time.Time) {
	m.transitions.WithLabelValues(w.Provisioner, w.State, "deleted").Inc()
	if w.State == string(workspace.StateDeleting) && w.StateDeadlineTime != nil {
		began := w.StateDeadlineTime.AsTime().Add(-deadlines[workspace.StateDeleting])
		m.toDeleted.WithLabelValues(w.Provisioner).Observe(now.Sub(began).Seconds())
	}
}

// stateCollector reports workspaces by state and provisioner from the index
// at scrape time.
type stateCollector struct{ index *Index }

var workspacesDesc = prometheus.NewDesc(metrics.Namespace+"_workspaces",
	"Workspaces by state and provisioner (from the store, as the API's index holds it).", []string{"state", "provisioner"}, nil)

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- workspacesDesc }

// Collect implements prometheus.Collector: every known state and provisioner
// pair, zero included, so a series does not vanish when its last workspace
// leaves it.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct{ state, prov string }
	n := map[key]int{}
	for _, s := range workspace.States {
		for _, p := range workspace.Provisioners {
			n[key{string(s), string(p)}] = 0
		}
	}
	c.index.each(func(w *workspacev1.Workspace) { n[key{w.State, w.Provisioner}]++ })
	for k, v := range n {
		ch <- prometheus.MustNewConstMetric(workspacesDesc, prometheus.GaugeValue, float64(v), k.state, k.prov)
	}
}
