package provisioner_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/services/api/apitest"
)

// TestCreateTraceReachesTheApiserver: with tracing on, the k8s
// provisioner's consume of a create event continues the API's trace, and
// its writes to the kube-apiserver are spans under it.
func TestCreateTraceReachesTheApiserver(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := telemetry.NewProvider("test", sdktrace.WithSpanProcessor(rec))
	telemetry.Install(tp)
	t.Cleanup(telemetry.Uninstall)
	env := apitest.Start(t, apitest.Options{})
	ns := namespace(t)
	startProvisioner(t, env, ns)

	created, err := env.Client.CreateWorkspace(t.Context(), &workspacev1.CreateWorkspaceRequest{Name: "traced", Provisioner: "kubernetes"})
	require.NoError(t, err)
	id := created.Workspace.Id
	waitResource(t, ns, id, nil)

	var rpc sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "aileron.workspace.v1.WorkspaceService/CreateWorkspace" {
			rpc = s
		}
	}
	require.NotNil(t, rpc)
	var got []string
	require.Eventually(t, func() bool {
		got = got[:0]
		for _, s := range rec.Ended() {
			if s.SpanContext().TraceID() == rpc.SpanContext().TraceID() {
				got = append(got, s.Name())
			}
		}
		return slices.Contains(got, "consume aileron.workspace.kubernetes.created") &&
			slices.ContainsFunc(got, func(n string) bool { return strings.HasPrefix(n, "kube ") && strings.HasSuffix(n, " Workspace") })
	}, 30*time.Second, 20*time.Millisecond, "the create's trace holds %v", got)
	require.Contains(t, got, "publish aileron.workspace.kubernetes.created")
}
