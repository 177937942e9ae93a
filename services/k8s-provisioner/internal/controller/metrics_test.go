package controller_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"aileron.dev/pkg/metrics"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/controller"
	"aileron.dev/services/k8s-provisioner/internal/controller/controllertest"
)

// scrape serves controller-runtime's registry, which the operator's metrics
// endpoint serves and the suite's manager registered on, as the endpoint
// does, and parses the page with the Prometheus text parser.
func scrape(t require.TestingT) map[string]*dto.MetricFamily {
	srv := httptest.NewServer(promhttp.HandlerFor(ctrlmetrics.Registry, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

// value sums the series of name whose labels include want: counter and
// gauge values, histogram sample counts.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	return metrics.SumFamily(fams[name], want)
}

// TestMetricsMove drives a Workspace to running, removes one of its
// Services and fails one of its Deployments, and reads the operator's
// metrics page after each step: the counters move by name and label, and
// the creation of children is not counted as a repair.
func TestMetricsMove(t *testing.T) {
	before := scrape(t)
	ws := createWorkspace(t, nil)
	rollOut(t, ws, "runtime", "browser", "canvas")
	bindClaim(t, ws)
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseRunning, st.Phase)
	})

	delta := func(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
		return value(fams, name, labels) - value(before, name, labels)
	}
	running := scrape(t)
	require.Positive(t, delta(running, "aileron_workspace_operator_reconciles_total", map[string]string{"result": "ok"}))
	require.Positive(t, delta(running, "aileron_workspace_operator_reconcile_duration_seconds", map[string]string{"result": "ok"}))
	require.GreaterOrEqual(t, delta(running, "aileron_workspace_operator_apiserver_calls_total",
		map[string]string{"call": "Create", "kind": "Deployment", "result": "ok"}), 3.0, "runtime, browser and canvas")
	require.GreaterOrEqual(t, delta(running, "aileron_workspace_operator_apiserver_calls_total",
		map[string]string{"call": "Create", "kind": "CiliumNetworkPolicy", "result": "ok"}), 2.0, "one policy per group")
	require.Positive(t, delta(running, "aileron_workspace_operator_apiserver_calls_total",
		map[string]string{"call": "StatusUpdate", "kind": "Workspace", "result": "ok"}))
	require.Positive(t, delta(running, "aileron_workspace_operator_apiserver_call_duration_seconds", map[string]string{"call": "Create"}))
	missing := map[string]string{"kind": "Service", "reason": "missing"}
	require.Zero(t, delta(running, "aileron_workspace_operator_repairs_total", missing), "creating the children is no repair")
	// Read from the cache at scrape time: this Workspace is among the running.
	require.Positive(t, value(running, "aileron_workspace_operator_workspaces", map[string]string{"phase": "Running"}))
	require.Contains(t, running, "aileron_workspace_operator_firewall_not_applied_seconds")
	require.Contains(t, running, "aileron_workspace_operator_firewall_not_applied_workspaces")
	// controller-runtime's own metrics are on the same page.
	require.Positive(t, delta(running, "controller_runtime_reconcile_total", map[string]string{"controller": "workspace"}))
	require.Contains(t, running, "workqueue_depth")
	require.Contains(t, running, "rest_client_requests_total")

	// A Service removed behind the operator's back comes back: a repair.
	svc := &corev1.Service{}
	key := types.NamespacedName{Namespace: ws.Namespace, Name: "ws-" + ws.Spec.WorkspaceID + "-runtime"}
	require.NoError(t, k8s.Get(t.Context(), key, svc))
	require.NoError(t, k8s.Delete(t.Context(), svc))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.Equal(c, 1.0, delta(scrape(c), "aileron_workspace_operator_repairs_total", missing))
	}, waitFor, tick)
	back := &corev1.Service{}
	require.NoError(t, k8s.Get(t.Context(), key, back))
	require.NotEqual(t, svc.UID, back.UID)

	// The browser's pods cannot be created: a component failure, counted once.
	browser := types.NamespacedName{Namespace: ws.Namespace, Name: "ws-" + ws.Spec.WorkspaceID + "-browser"}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.NoError(c, controllertest.MarkReplicaFailure(t.Context(), k8s, browser, "pods exceed the namespace quota"))
	}, waitFor, tick)
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.ComponentFailed, st.Services.Browser.Phase)
	})
	failed := map[string]string{"component": "browser", "reason": v1alpha1.ReasonReplicaFailure}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.Equal(c, 1.0, delta(scrape(c), "aileron_workspace_operator_component_failures_total", failed))
	}, waitFor, tick)
	require.Zero(t, delta(scrape(t), "aileron_workspace_operator_component_failures_total",
		map[string]string{"component": "runtime"}), "the runtime did not fail")

	// Every metric of the operator moved by now: the page and docs/metrics.md
	// list the same ones.
	documented, err := controllertest.DocumentedMetrics("aileron_" + controller.Subsystem + "_")
	require.NoError(t, err)
	served := map[string]bool{}
	for name := range scrape(t) {
		if strings.HasPrefix(name, "aileron_"+controller.Subsystem+"_") {
			served[name] = true
		}
	}
	require.Equal(t, documented, served, "docs/metrics.md lists the operator's metrics")
}
