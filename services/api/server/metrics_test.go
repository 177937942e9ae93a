package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/metrics"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/apitest"
	apiserver "aileron.dev/services/api/server"
)

// TestMetrics drives the api over REST and gRPC and through a provisioner's
// report, then reads the registry: requests by route and code (never the
// raw path), refusals by reason, the lifecycle, and the gauge by state.
func TestMetrics(t *testing.T) {
	reg := metrics.NewRegistry()
	env := apitest.Start(t, apitest.Options{Server: func(c *apiserver.Config) { c.Metrics, c.MetricsOnREST = reg, true }})
	ctx := context.Background()

	resp, err := http.Post(env.URL+"/api/v1/workspaces", "application/json", strings.NewReader(`{"name":"m"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	list, err := env.Client.ListWorkspaces(ctx, &workspacev1.ListWorkspacesRequest{})
	require.NoError(t, err)
	w := list.Workspaces[0]
	for _, path := range []string{"/api/v1/workspaces/aaaaaaaaaaaaaaaaaaaa", "/api/v1/nowhere"} {
		resp, err := http.Get(env.URL + path)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	}
	require.Equal(t, 1.0, sample(t, reg, "aileron_workspaces", map[string]string{"state": "creating", "provisioner": "docker"}))

	// The provisioner reports running: creating → running, timed from the create.
	require.NoError(t, env.Server.Orchestrator.ApplyStatus(ctx, &eventsv1.StatusReport{
		WorkspaceId: w.Id, Phase: string(workspace.PhaseRunning), ObservedGeneration: w.Generation, Reporter: "test"}))
	_, err = env.Client.StopWorkspace(ctx, &workspacev1.StopWorkspaceRequest{Id: w.Id})
	require.NoError(t, err)
	_, err = env.Client.StopWorkspace(ctx, &workspacev1.StopWorkspaceRequest{Id: w.Id})
	require.NoError(t, err, "a repeated stop is idempotent")
	_, err = env.Client.StartWorkspace(ctx, &workspacev1.StartWorkspaceRequest{Id: w.Id})
	require.Error(t, err, "start while stopping is refused")

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"aileron_api_http_requests_total", map[string]string{"method": "POST", "route": "/api/v1/workspaces", "code": "201"}, 1},
		{"aileron_api_http_requests_total", map[string]string{"method": "GET", "route": "/api/v1/workspaces/{id=*}", "code": "404"}, 1},
		{"aileron_api_http_requests_total", map[string]string{"method": "GET", "route": "unmatched", "code": "404"}, 1},
		{"aileron_api_grpc_requests_total", map[string]string{"method": "CreateWorkspace", "code": "OK"}, 1},
		{"aileron_api_grpc_requests_total", map[string]string{"method": "StopWorkspace", "code": "OK"}, 2},
		{"aileron_api_refused_calls_total", map[string]string{"method": "GetWorkspace", "reason": "WORKSPACE_NOT_FOUND"}, 1},
		{"aileron_api_refused_calls_total", map[string]string{"method": "StartWorkspace", "reason": "WORKSPACE_START_NOT_ALLOWED"}, 1},
		{"aileron_workspace_transitions_total", map[string]string{"provisioner": "docker", "from": "creating", "to": "running"}, 1},
		{"aileron_workspace_transitions_total", map[string]string{"provisioner": "docker", "from": "running", "to": "stopping"}, 1},
		{"aileron_workspace_transitions_total", nil, 2},
		{"aileron_workspaces", map[string]string{"state": "stopping", "provisioner": "docker"}, 1},
		{"aileron_workspaces", map[string]string{"state": "creating", "provisioner": "docker"}, 0},
		{"aileron_workspace_time_to_running_seconds", map[string]string{"provisioner": "docker", "from": "creating"}, 1},
		{"aileron_api_grpc_request_duration_seconds", map[string]string{"method": "StopWorkspace"}, 2},
	} {
		require.Equal(t, c.want, sample(t, reg, c.name, c.labels), "%s%v", c.name, c.labels)
	}
	fams, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				require.NotContains(t, l.GetValue(), w.Id, "%s: no workspace id in a label", f.GetName())
			}
		}
	}

	// The watch gauge follows an open stream.
	wctx, cancel := context.WithCancel(ctx)
	stream, err := env.Client.WatchWorkspaces(wctx, &workspacev1.WatchWorkspacesRequest{})
	require.NoError(t, err)
	_, err = stream.Recv()
	require.NoError(t, err)
	require.Equal(t, 1.0, sample(t, reg, "aileron_api_watch_streams_open", nil))
	cancel()
	require.Eventually(t, func() bool { return sample(t, reg, "aileron_api_watch_streams_open", nil) == 0 }, 10*time.Second, 10*time.Millisecond)

	page, err := http.Get(env.URL + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, string(body), "# TYPE aileron_workspace_transitions_total counter")
}

// sample adds the counters, gauges and histogram counts of name whose labels
// include want.
func sample(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	n, err := metrics.Sum(reg, name, want)
	require.NoError(t, err)
	return n
}
