package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// TestDevMetrics runs a workspace through create, stop, start and delete on
// aileron dev with the real Docker Engine, then scrapes /metrics, parses it
// with the Prometheus text parser and checks that the counters and
// histograms of every service moved by name and label.
func TestDevMetrics(t *testing.T) {
	buildImages(t)
	base := startDev(t, "--docker=on")
	id := restCreate(t, base, `{"name": "metrics", "provisioner": "docker"}`)["id"].(string)
	// An unknown id answers 404: a refused call, counted.
	r, err := http.Get(base + "/api/v1/workspaces/aaaaaaaaaaaaaaaaaaaa")
	require.NoError(t, err)
	r.Body.Close()
	restWaitState(t, base, id, "running")
	restCommand(t, base, id, "stop")
	restWaitState(t, base, id, "stopped")
	restCommand(t, base, id, "start")
	restWaitState(t, base, id, "running")
	restDelete(t, base, id)

	fams := scrapeMetrics(t, base)
	docker := map[string]string{"provisioner": "docker"}
	// Lifecycle: two ways into running, one stop, one delete.
	require.GreaterOrEqual(t, metricValue(t, fams, "aileron_workspace_transitions_total", map[string]string{"provisioner": "docker", "from": "creating", "to": "running"}), 1.0)
	require.GreaterOrEqual(t, metricValue(t, fams, "aileron_workspace_transitions_total", map[string]string{"provisioner": "docker", "from": "starting", "to": "running"}), 1.0)
	require.GreaterOrEqual(t, metricSum(fams, "aileron_workspace_transitions_total", map[string]string{"to": "running"}), 2.0)
	require.Equal(t, 1.0, metricValue(t, fams, "aileron_workspace_transitions_total", map[string]string{"provisioner": "docker", "from": "deleting", "to": "deleted"}))
	require.GreaterOrEqual(t, metricHistCount(fams, "aileron_workspace_time_to_running_seconds", docker), uint64(2))
	require.Equal(t, uint64(1), metricHistCount(fams, "aileron_workspace_time_to_stopped_seconds", docker))
	require.Equal(t, uint64(1), metricHistCount(fams, "aileron_workspace_time_to_deleted_seconds", docker))
	require.Equal(t, 0.0, metricSum(fams, "aileron_workspace_failures_total", nil))
	// The gauge is computed from the store: nothing is left.
	require.Equal(t, 0.0, metricSum(fams, "aileron_workspaces", nil))
	require.Contains(t, fams, "aileron_workspaces", "the gauge reports zeros rather than vanishing")
	// Requests: REST by route pattern and code, gRPC by method and code.
	require.Equal(t, 1.0, metricValue(t, fams, "aileron_api_http_requests_total", map[string]string{"method": "POST", "route": "/api/v1/workspaces", "code": "201"}))
	require.GreaterOrEqual(t, metricValue(t, fams, "aileron_api_http_requests_total", map[string]string{"method": "GET", "route": "/api/v1/workspaces/{id=*}", "code": "404"}), 1.0)
	for _, f := range fams["aileron_api_http_requests_total"].GetMetric() {
		require.NotContains(t, metricLabel(f, "route"), id, "no raw path as a label")
	}
	require.Equal(t, 1.0, metricValue(t, fams, "aileron_api_grpc_requests_total", map[string]string{"method": "CreateWorkspace", "code": "OK"}))
	require.GreaterOrEqual(t, metricValue(t, fams, "aileron_api_grpc_requests_total", map[string]string{"method": "GetWorkspace", "code": "NotFound"}), 1.0)
	require.GreaterOrEqual(t, metricValue(t, fams, "aileron_api_refused_calls_total", map[string]string{"method": "GetWorkspace", "reason": "WORKSPACE_NOT_FOUND"}), 1.0)
	require.GreaterOrEqual(t, metricHistCount(fams, "aileron_api_grpc_request_duration_seconds", map[string]string{"method": "StopWorkspace"}), uint64(1))
	// The firewall: the create's revision was computed and applied.
	require.GreaterOrEqual(t, metricValue(t, fams, "aileron_firewall_policy_reconciles_total", map[string]string{"result": "stored"}), 1.0)
	require.GreaterOrEqual(t, metricValue(t, fams, "aileron_firewall_policy_applies_total", map[string]string{"provisioner": "docker", "phase": "applied"}), 1.0)
	require.GreaterOrEqual(t, metricHistCount(fams, "aileron_firewall_time_to_applied_seconds", docker), uint64(1))
	// The docker provisioner and its engine calls.
	require.GreaterOrEqual(t, metricValue(t, fams, "aileron_docker_provisioner_reconciles_total", map[string]string{"result": "ok"}), 4.0)
	require.GreaterOrEqual(t, metricValue(t, fams, "aileron_docker_provisioner_engine_calls_total", map[string]string{"call": "ContainerCreate", "result": "ok"}), 1.0)
	require.GreaterOrEqual(t, metricValue(t, fams, "aileron_docker_provisioner_engine_calls_total", map[string]string{"call": "ContainerStop", "result": "ok"}), 1.0)
	require.GreaterOrEqual(t, metricHistCount(fams, "aileron_docker_provisioner_engine_call_duration_seconds", map[string]string{"call": "VolumeRemove"}), uint64(1))
	require.GreaterOrEqual(t, metricValue(t, fams, "aileron_docker_provisioner_firewall_policy_writes_total", nil), 1.0)
	require.Contains(t, fams, "aileron_api_watch_streams_open")
	require.Contains(t, fams, "go_goroutines")
	requireDocumented(t, fams)
}

// TestDevMetricsOff: with --metrics=false /metrics is no metrics page (the
// console's pages answer it), and by default it is.
func TestDevMetricsOff(t *testing.T) {
	for _, on := range []bool{false, true} {
		base := startDev(t, "--docker=off", "--metrics="+strconv.FormatBool(on))
		resp, err := http.Get(base + "/metrics")
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, on, strings.Contains(string(body), "# TYPE aileron_workspaces gauge"), "--metrics=%v", on)
		if on {
			requireDocumented(t, scrapeMetrics(t, base))
		}
	}
}

// requireDocumented fails on an aileron_* family of the page that
// docs/metrics.md does not list: the chart's dashboard and alerts are
// checked against that page, so it must name what the services register.
func requireDocumented(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	require.NoError(t, err)
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_:][a-z0-9_:]*)` \\|").FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = true
	}
	n := 0
	for name := range fams {
		if strings.HasPrefix(name, "aileron_") {
			n++
			require.True(t, documented[name], "%s is served but not listed in docs/metrics.md", name)
		}
	}
	require.Positive(t, n)
}

// scrapeMetrics reads /metrics and parses it with the Prometheus text parser.
func scrapeMetrics(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return fams
}

func metricLabel(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func metricMatches(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		if metricLabel(m, k) != v {
			return false
		}
	}
	return true
}

// metricValue is the value of the one series of name with the labels want.
func metricValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f, ok := fams[name]
	require.True(t, ok, "metric %s is missing", name)
	for _, m := range f.GetMetric() {
		if metricMatches(m, want) {
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no series %s%v", name, want)
	return 0
}

// metricSum adds every counter or gauge series of name with the labels want.
func metricSum(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var n float64
	for _, m := range fams[name].GetMetric() {
		if metricMatches(m, want) {
			n += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return n
}

// metricHistCount adds the sample counts of every histogram series of name with the labels want.
func metricHistCount(fams map[string]*dto.MetricFamily, name string, want map[string]string) uint64 {
	var n uint64
	for _, m := range fams[name].GetMetric() {
		if metricMatches(m, want) {
			n += m.GetHistogram().GetSampleCount()
		}
	}
	return n
}
