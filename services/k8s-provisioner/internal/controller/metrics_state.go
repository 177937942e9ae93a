package controller

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"aileron.dev/pkg/metrics"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// phases are the Workspace phases the workspaces gauge always reports,
// zeros included; "Unknown" is a Workspace not observed yet.
var phases = []v1alpha1.Phase{
	v1alpha1.PhasePending, v1alpha1.PhaseReconciling, v1alpha1.PhaseRunning, v1alpha1.PhaseStopped, v1alpha1.PhaseFailed, "Unknown",
}

var (
	workspacesDesc = prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, Subsystem, "workspaces"),
		"Workspace resources by the phase the operator reported, from its cache at scrape time (every replica reports the same).", []string{"phase"}, nil)
	firewallDesc = prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, Subsystem, "firewall_not_applied_seconds"),
		"How long the Workspace whose firewall has gone unapplied longest (FirewallApplied not True, including Cilium missing) has been so; 0 when every firewall is applied.", nil, nil)
	firewallCountDesc = prometheus.NewDesc(prometheus.BuildFQName(metrics.Namespace, Subsystem, "firewall_not_applied_workspaces"),
		"Workspace resources whose FirewallApplied condition is not True.", nil, nil)
)

// stateTimeout bounds the cache read of one scrape.
const stateTimeout = 2 * time.Second

// stateCollector reports the Workspaces in the operator's cache: an
// in-memory read, no apiserver call.
type stateCollector struct {
	c   client.Reader
	now func() time.Time
}

func (s *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- workspacesDesc
	ch <- firewallDesc
	ch <- firewallCountDesc
}

func (s *stateCollector) Collect(ch chan<- prometheus.Metric) {
	// A scrape has no context of its own; the cache answers from memory, or
	// at once when it has not started.
	ctx, cancel := context.WithTimeout(context.Background(), stateTimeout)
	defer cancel()
	var list v1alpha1.WorkspaceList
	if err := s.c.List(ctx, &list); err != nil {
		return // cache not started yet: no sample rather than a wrong one
	}
	count := map[v1alpha1.Phase]int{}
	var oldest time.Duration
	unapplied := 0
	now := s.now()
	for i := range list.Items {
		ws := &list.Items[i]
		if !ws.DeletionTimestamp.IsZero() {
			continue
		}
		p := ws.Status.Phase
		if p == "" {
			p = "Unknown"
		}
		count[p]++
		c := meta.FindStatusCondition(ws.Status.Conditions, v1alpha1.ConditionFirewallApplied)
		if c != nil && c.Status == metav1.ConditionTrue {
			continue
		}
		unapplied++
		// Unapplied since the condition turned so, or, before the first
		// one, since the Workspace was made.
		since := ws.CreationTimestamp.Time
		if c != nil {
			since = c.LastTransitionTime.Time
		}
		oldest = max(oldest, now.Sub(since))
	}
	for _, p := range phases {
		ch <- prometheus.MustNewConstMetric(workspacesDesc, prometheus.GaugeValue, float64(count[p]), string(p))
	}
	ch <- prometheus.MustNewConstMetric(firewallDesc, prometheus.GaugeValue, oldest.Seconds())
	ch <- prometheus.MustNewConstMetric(firewallCountDesc, prometheus.GaugeValue, float64(unapplied))
}
