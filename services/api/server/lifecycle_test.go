package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/event"
	"aileron.dev/services/api/apitest"
)

// TestLifecycleEndToEnd drives REST → gateway → gRPC → KV → NATS and back
// through status reports, as a provisioner would.
func TestLifecycleEndToEnd(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	next := events(t, env)

	w := create(t, env, "my-workspace")
	id := w["id"].(string)
	require.Equal(t, "creating", w["state"])
	require.Equal(t, "docker", w["provisioner"])
	require.Equal(t, "allowlist", w["workspace_firewall_domain_access_mode"])
	require.Equal(t, true, w["browser_firewall_network_access_enabled"])
	ev := next()
	require.Equal(t, event.TypeCreated, ev.Type)
	require.Equal(t, id, ev.Workspace.Id)
	require.Equal(t, uint64(1), ev.Sequence)

	code, got := get(t, env, id)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "my-workspace", got["name"])

	report(t, env, id, generation(t, w), "running")
	w = waitState(t, env, id, "running")
	require.Equal(t, event.TypeStateChanged, next().Type)

	steps := []struct {
		path, wantState, wantEvent, report, settled string
	}{
		{"/stop", "stopping", event.TypeStopRequested, "stopped", "stopped"},
		{"/start", "starting", event.TypeStartRequested, "running", "running"},
		{"/restart", "restarting", event.TypeRestartRequested, "running", "running"},
	}
	for _, s := range steps {
		code, w = call(t, env, "POST", "/api/v1/workspaces/"+id+s.path, nil)
		require.Equal(t, http.StatusAccepted, code, "%s: %v", s.path, w)
		require.Equal(t, s.wantState, w["state"])
		require.Equal(t, s.wantEvent, next().Type)
		// A repeat while in progress answers the same and emits nothing.
		code, again := call(t, env, "POST", "/api/v1/workspaces/"+id+s.path, nil)
		require.Equal(t, http.StatusAccepted, code)
		require.Equal(t, w["revision"], again["revision"])
		report(t, env, id, generation(t, w), s.report)
		waitState(t, env, id, s.settled)
		ev := next()
		require.Equal(t, event.TypeStateChanged, ev.Type, "after %s: %v", s.path, ev)
	}

	for _, path := range []string{"/services/browser/restart", "/components/runtime/restart"} {
		code, w = call(t, env, "POST", "/api/v1/workspaces/"+id+path, nil)
		require.Equal(t, http.StatusAccepted, code, "%v", w)
		require.Equal(t, "running", w["state"])
		ev = next()
		require.Equal(t, event.TypeServiceRestartRequested, ev.Type)
	}
	require.Equal(t, "restarting", w["services"].(map[string]any)["runtime"].(map[string]any)["state"])
	require.NotNil(t, w["operations"].(map[string]any)["restart_runtime_time"])

	code, w = call(t, env, "DELETE", "/api/v1/workspaces/"+id, nil)
	require.Equal(t, http.StatusAccepted, code)
	require.Equal(t, "deleting", w["state"])
	require.Equal(t, "deleted", w["desired_state"])
	require.Equal(t, event.TypeDeleteRequested, next().Type)
	report(t, env, id, generation(t, w), "deleted")
	require.Eventually(t, func() bool { code, _ := get(t, env, id); return code == http.StatusNotFound }, waitFor, tick)
	require.Equal(t, event.TypeDeleted, next().Type)

	// The name is free again.
	create(t, env, "my-workspace")
}

func TestStaleReportIsIgnored(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	w := create(t, env, "stale")
	id := w["id"].(string)
	report(t, env, id, 1, "running")
	waitState(t, env, id, "running")
	_, w = call(t, env, "POST", "/api/v1/workspaces/"+id+"/stop", nil)
	require.Equal(t, int64(2), generation(t, w))
	report(t, env, id, 1, "running") // about generation 1: stale
	report(t, env, id, 2, "stopped")
	w = waitState(t, env, id, "stopped")
	require.Equal(t, "2", w["observed_generation"])
}

func TestFailedReportAndRetry(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	w := create(t, env, "flaky")
	id := w["id"].(string)
	report(t, env, id, 1, "failed")
	w = waitState(t, env, id, "failed")
	require.Equal(t, "PROVISIONER_FAILED", w["error_code"])
	code, w := call(t, env, "POST", "/api/v1/workspaces/"+id+"/start", nil)
	require.Equal(t, http.StatusAccepted, code)
	require.Equal(t, "starting", w["state"])
	require.Empty(t, w["error_code"])
}

func TestFirewallGetAndPut(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	id := create(t, env, "fw")["id"].(string)
	code, fw := call(t, env, "GET", "/api/v1/workspaces/"+id+"/firewall", nil)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "1", fw["revision"])

	body := map[string]any{
		"revision": "1",
		"workspace_firewall_network_access_enabled": true,
		"workspace_firewall_domain_access_mode":     "allowlist",
		"workspace_firewall_allowed_domains":        []string{"Example.COM.", "*.pkg.dev", "example.com"},
		"browserFirewallNetworkAccessEnabled":       false,
		"browserFirewallDomainAccessMode":           "deny",
	}
	code, fw = call(t, env, "PUT", "/api/v1/workspaces/"+id+"/firewall", body)
	require.Equal(t, http.StatusAccepted, code, "%v", fw)
	require.Equal(t, "2", fw["revision"])
	require.Equal(t, []any{"*.pkg.dev", "example.com"}, fw["workspace_firewall_allowed_domains"])
	require.Equal(t, false, fw["browser_firewall_network_access_enabled"])
	require.Equal(t, "applying", fw["status"].(map[string]any)["phase"])

	code, e := call(t, env, "PUT", "/api/v1/workspaces/"+id+"/firewall", body) // revision 1 is stale now
	require.Equal(t, http.StatusConflict, code)
	require.Equal(t, "FIREWALL_REVISION_CONFLICT", e["code"])
	require.Equal(t, "revision", e["field"])
	_, after := call(t, env, "GET", "/api/v1/workspaces/"+id+"/firewall", nil)
	require.Equal(t, "2", after["revision"])
}
