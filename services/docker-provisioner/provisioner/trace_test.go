package provisioner_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"aileron.dev/pkg/telemetry"
	"aileron.dev/pkg/telemetry/telemetrytest"
)

// TestCreateIsOneTrace creates a workspace over REST with an in-memory
// exporter installed and checks that one trace covers the whole path: the
// REST request, the gateway's gRPC call, the orchestrator's event, the
// provisioner's reconcile and its Docker calls, and the status report that
// the orchestrator consumes.
func TestCreateIsOneTrace(t *testing.T) {
	rec := telemetrytest.Record(t)
	h := newHarness(t, nil, nil)
	h.startProvisioner()
	// The create's event must reach the provisioner's consumer (it starts
	// at the stream's end), not its start-up resync.
	require.Eventually(t, func() bool {
		_, err := h.api.JS.Consumer(t.Context(), "AILERON", h.cfg.Consumer)
		return err == nil
	}, 30*time.Second, 20*time.Millisecond, "the provisioner's consumer never appeared")

	resp, err := http.Post(h.api.URL+"/api/v1/workspaces", "application/json", strings.NewReader(`{"name":"traced","provisioner":"docker"}`))
	require.NoError(t, err)
	var ws struct{ ID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&ws))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	h.waitState(ws.ID, "running")

	var restSpan sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "POST /api/v1/workspaces" {
			restSpan = s
		}
	}
	require.NotNil(t, restSpan, "no REST span among %v", spanNames(rec.Ended()))
	require.Equal(t, trace.SpanKindServer, restSpan.SpanKind())
	id := restSpan.SpanContext().TraceID()

	// The running report is published before the reconcile span ends and
	// consumed by the orchestrator after: poll until both are in.
	want := []string{
		"POST /api/v1/workspaces",
		"aileron.workspace.v1.WorkspaceService/CreateWorkspace",
		"publish aileron.workspace.docker.created",
		"consume aileron.workspace.docker.created",
		"reconcile",
		"docker ContainerCreate",
		"docker ContainerStart",
		"publish aileron.status.provisioner",
		"consume aileron.status.provisioner",
	}
	var inTrace []sdktrace.ReadOnlySpan
	complete := func() bool {
		inTrace = inTrace[:0]
		for _, s := range rec.Ended() {
			if s.SpanContext().TraceID() == id {
				inTrace = append(inTrace, s)
			}
		}
		got := spanNames(inTrace)
		for _, n := range want {
			if !slices.Contains(got, n) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(30 * time.Second); !complete(); time.Sleep(50 * time.Millisecond) {
		require.True(t, time.Now().Before(deadline), "trace lacks some of %v:\n%s", want, telemetry.FormatTree(inTrace))
	}
	// A later pass may still be running: stop the provisioner so every
	// reconcile span has ended before the tree's shape is checked.
	h.stopProvisioner()
	require.True(t, complete())
	t.Logf("the create's trace:\n%s", telemetry.FormatTree(inTrace))

	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range inTrace {
		byID[s.SpanContext().SpanID()] = s
	}
	for _, s := range inTrace {
		switch {
		case s.Name() == "reconcile" || strings.HasPrefix(s.Name(), "publish aileron.workspace."):
			require.Contains(t, attrs(s), "workspace_id="+ws.ID, s.Name())
		case strings.HasPrefix(s.Name(), "docker "):
			// A Docker call hangs under a reconcile pass.
			p, ok := byID[s.Parent().SpanID()]
			require.True(t, ok, "%s has no parent in the trace", s.Name())
			require.Equal(t, "reconcile", p.Name())
		}
		if s != restSpan {
			_, ok := byID[s.Parent().SpanID()]
			require.True(t, ok, "%s's parent is not in the trace", s.Name())
		}
	}
	for _, s := range inTrace {
		for _, a := range s.Attributes() {
			require.NotContains(t, strings.ToLower(string(a.Key)), "token", "span %s", s.Name())
			require.NotContains(t, strings.ToLower(string(a.Key)), "authorization", "span %s", s.Name())
		}
	}
}

func spanNames(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name()
	}
	return out
}

func attrs(s sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, a := range s.Attributes() {
		out = append(out, string(a.Key)+"="+a.Value.Emit())
	}
	return out
}
