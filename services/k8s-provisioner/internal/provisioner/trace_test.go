package provisioner_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/types"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/pkg/telemetry/telemetrytest"
	"aileron.dev/services/api/apitest"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/controller"
	"aileron.dev/services/k8s-provisioner/internal/provisioner"
)

// TestCreateTraceReachesTheApiserver: with tracing on, one create is one
// trace from the API's RPC through the k8s provisioner's consume and apply
// of the Workspace resource, the workspace-operator's reconcile passes and
// their writes (the trace context travels on the resource), to the status
// report that the workspace runs and the API's consume of it. A pass after
// the workspace converged is a trace of its own, linked to the create's.
func TestCreateTraceReachesTheApiserver(t *testing.T) {
	rec := telemetrytest.Record(t)
	env := apitest.Start(t, apitest.Options{})
	ns := namespace(t)
	p := startProvisioner(t, env, ns)

	created, err := env.Client.CreateWorkspace(t.Context(), &workspacev1.CreateWorkspaceRequest{Name: "traced", Provisioner: "kubernetes"})
	require.NoError(t, err)
	id := created.Workspace.Id
	ws := waitResource(t, ns, id, nil)

	var rpc sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "aileron.workspace.v1.WorkspaceService/CreateWorkspace" {
			rpc = s
		}
	}
	require.NotNil(t, rpc)
	create := rpc.SpanContext().TraceID()
	inCreate := func() []sdktrace.ReadOnlySpan {
		return slices.DeleteFunc(rec.Ended(), func(s sdktrace.ReadOnlySpan) bool { return s.SpanContext().TraceID() != create })
	}
	waitSpans(t, inCreate, "consume aileron.workspace.kubernetes.created", "kube Apply Workspace",
		controller.ReconcileSpan, "kube Create Deployment", provisioner.ReportSpan)
	spans := inCreate()
	require.Contains(t, names(spans), "publish aileron.workspace.kubernetes.created")

	// The resource carries the consume's context, and the operator's pass
	// is its child; the pass's writes are the pass's children.
	carried := telemetry.ParseTraceparent(ws.Annotations[v1alpha1.AnnotationTraceparent])
	require.Equal(t, create, carried.TraceID())
	consume := byID(spans, carried.SpanID())
	require.NotNil(t, consume)
	require.Equal(t, "consume aileron.workspace.kubernetes.created", consume.Name())
	reconcile := find(spans, controller.ReconcileSpan)
	require.Equal(t, consume.SpanContext().SpanID(), reconcile.Parent().SpanID())
	require.Contains(t, attrs(reconcile), "workspace_id="+id)
	require.True(t, hasPrefix(attrs(reconcile), "result="), attrs(reconcile))
	passes := map[trace.SpanID]bool{}
	for _, s := range spans {
		if s.Name() == controller.ReconcileSpan {
			passes[s.SpanContext().SpanID()] = true
		}
	}
	require.True(t, passes[find(spans, "kube Create Deployment").Parent().SpanID()], "the Deployment create is a write of a pass")

	// Running: the report that says so, and the API's consume of it (which
	// moves the record to running and publishes state_changed), are in the
	// create's trace.
	rollOut(t, ns, id, "runtime", "browser")
	bindClaim(t, ns, id)
	waitState(t, env, id, "running")
	waitSpans(t, inCreate, "publish aileron.status.provisioner", "consume aileron.status.provisioner",
		"publish aileron.workspace.kubernetes.state_changed")
	spans = inCreate()
	running := find(spans, "publish aileron.workspace.kubernetes.state_changed")
	require.Equal(t, "consume aileron.status.provisioner", byID(spans, running.Parent().SpanID()).Name(), "the state change follows the report")
	// A report span is a report: a pass of the reporter with nothing to
	// publish yet makes none.
	for _, s := range spans {
		if s.Name() == provisioner.ReportSpan {
			require.True(t, slices.ContainsFunc(spans, func(c sdktrace.ReadOnlySpan) bool {
				return c.Parent().SpanID() == s.SpanContext().SpanID() && strings.HasPrefix(c.Name(), "publish ")
			}), "a %s span with no publish", provisioner.ReportSpan)
		}
	}

	// A resync re-applies the generation without a trace of its own: the
	// provisioner keeps the annotation it owns.
	require.NoError(t, p.Resync(t.Context()))
	require.Equal(t, ws.Annotations[v1alpha1.AnnotationTraceparent], waitResource(t, ns, id, nil).Annotations[v1alpha1.AnnotationTraceparent])

	// A pass after convergence (a Deployment changed) is its own trace,
	// linked to the create's.
	key := types.NamespacedName{Namespace: ns, Name: "ws-" + id + "-runtime"}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		dep := &appsv1.Deployment{}
		require.NoError(c, k8s.Get(t.Context(), key, dep))
		if dep.Annotations == nil {
			dep.Annotations = map[string]string{}
		}
		dep.Annotations["test.aileron.io/poke"] = time.Now().String()
		require.NoError(c, k8s.Update(t.Context(), dep))
	}, waitFor, tick)
	var later sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		i := slices.IndexFunc(rec.Ended(), func(s sdktrace.ReadOnlySpan) bool {
			return s.Name() == controller.ReconcileSpan && s.SpanContext().TraceID() != create &&
				slices.Contains(attrs(s), "workspace_id="+id) && len(s.Links()) == 1 && s.Links()[0].SpanContext.TraceID() == create
		})
		if i >= 0 {
			later = rec.Ended()[i]
		}
		return later != nil
	}, waitFor, tick, "a pass after convergence starts a trace linked to the create's")
	require.False(t, later.Parent().IsValid(), "a root")
	for _, s := range inCreate() {
		if s.Name() == controller.ReconcileSpan {
			require.True(t, s.StartTime().Before(later.StartTime()), "no pass joins the create's trace once it converged")
		}
	}
}

// waitSpans waits until spans() holds a span of each name.
func waitSpans(t *testing.T, spans func() []sdktrace.ReadOnlySpan, want ...string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got := names(spans())
		for _, n := range want {
			assert.Contains(c, got, n)
		}
	}, waitFor, tick)
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name()
	}
	return out
}

// find returns the first span called name.
func find(spans []sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

func byID(spans []sdktrace.ReadOnlySpan, id trace.SpanID) sdktrace.ReadOnlySpan {
	for _, s := range spans {
		if s.SpanContext().SpanID() == id {
			return s
		}
	}
	return nil
}

// attrs renders a span's attributes as key=value.
func attrs(s sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, a := range s.Attributes() {
		out = append(out, string(a.Key)+"="+a.Value.Emit())
	}
	return out
}

// hasPrefix reports whether one of list starts with prefix.
func hasPrefix(list []string, prefix string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.HasPrefix(s, prefix) })
}
