package provisioner_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/metrics"
	"aileron.dev/services/api/apitest"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/controller/controllertest"
	"aileron.dev/services/k8s-provisioner/internal/provisioner"
)

// TestMetricsMove creates a kubernetes workspace through the API and sweeps
// an orphan, reading the provisioner's metrics page (parsed with the
// Prometheus text parser) after each: the counters move by name and label.
func TestMetricsMove(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	ns := namespace(t)
	p := startProvisioner(t, env, ns)
	reg := metrics.NewRegistry()
	require.NoError(t, p.RegisterMetrics(reg))
	srv := httptest.NewServer(metrics.Handler(reg))
	t.Cleanup(srv.Close)
	scrape := func(t require.TestingT) map[string]*dto.MetricFamily {
		resp, err := http.Get(srv.URL)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := p.TextToMetricFamilies(resp.Body)
		require.NoError(t, err)
		return fams
	}
	value := func(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
		return metrics.SumFamily(fams[name], want)
	}
	require.Zero(t, value(scrape(t), "aileron_k8s_provisioner_reconciles_total", nil))

	created, err := env.Client.CreateWorkspace(t.Context(), &workspacev1.CreateWorkspaceRequest{Name: "metrics", Provisioner: "kubernetes"})
	require.NoError(t, err)
	waitResource(t, ns, created.Workspace.Id, nil)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		fams := scrape(c)
		require.Positive(c, value(fams, "aileron_k8s_provisioner_reconciles_total", map[string]string{"result": "ok"}))
		require.Positive(c, value(fams, "aileron_k8s_provisioner_reconcile_duration_seconds", map[string]string{"result": "ok"}))
		require.Positive(c, value(fams, "aileron_k8s_provisioner_apiserver_calls_total", map[string]string{"call": "Apply", "kind": "Workspace", "result": "ok"}))
		require.Positive(c, value(fams, "aileron_k8s_provisioner_apiserver_call_duration_seconds", map[string]string{"call": "Apply"}))
		// Every event handled and acknowledged: the backlog is empty, and reported.
		require.Contains(c, fams, "aileron_k8s_provisioner_queue_depth")
		require.Zero(c, value(fams, "aileron_k8s_provisioner_queue_depth", nil))
	}, waitFor, tick)
	require.Zero(t, value(scrape(t), "aileron_k8s_provisioner_orphans_removed_total", nil))

	orphan := controllertest.Workspace(ns, "orphanmetricsaaaaaaa")
	orphan.Labels = map[string]string{v1alpha1.LabelManagedBy: provisioner.LabelManagedByValue}
	require.NoError(t, k8s.Create(t.Context(), orphan))
	require.NoError(t, p.Resync(t.Context()))
	fams := scrape(t)
	require.Equal(t, 1.0, value(fams, "aileron_k8s_provisioner_orphans_removed_total", map[string]string{"kind": "Workspace"}))
	require.Positive(t, value(fams, "aileron_k8s_provisioner_apiserver_calls_total", map[string]string{"call": "Delete", "kind": "Workspace", "result": "ok"}))
	require.Contains(t, fams, "go_goroutines", "the registry carries the Go collector")

	// Every metric of the provisioner moved by now: the page and
	// docs/metrics.md list the same ones.
	documented, err := controllertest.DocumentedMetrics("aileron_" + provisioner.Subsystem + "_")
	require.NoError(t, err)
	served := map[string]bool{}
	for name := range fams {
		if strings.HasPrefix(name, "aileron_"+provisioner.Subsystem+"_") {
			served[name] = true
		}
	}
	require.Equal(t, documented, served, "docs/metrics.md lists the provisioner's metrics")
}
