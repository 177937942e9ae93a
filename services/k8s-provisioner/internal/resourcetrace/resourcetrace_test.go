package resourcetrace_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/pkg/telemetry/telemetrytest"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/resourcetrace"
)

func resourceAt(gen, traceparent string) *v1alpha1.Workspace {
	ws := &v1alpha1.Workspace{}
	ws.Name = "ws1"
	ws.Annotations = map[string]string{v1alpha1.AnnotationGeneration: gen}
	if traceparent != "" {
		ws.Annotations[v1alpha1.AnnotationTraceparent] = traceparent
	}
	return ws
}

// TestValue: the trace a generation came with stays on the resource; a new
// generation takes the event's; nothing without tracing or a span.
func TestValue(t *testing.T) {
	const older = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	require.Empty(t, resourcetrace.Value(t.Context(), nil, 1), "tracing off")

	telemetrytest.Record(t)
	ctx, span := telemetry.Tracer().Start(t.Context(), "consume")
	defer span.End()
	mine := telemetry.Traceparent(ctx)
	require.NotEmpty(t, mine)

	require.Equal(t, mine, resourcetrace.Value(ctx, nil, 1), "no resource yet")
	require.Equal(t, older, resourcetrace.Value(ctx, resourceAt("1", older), 1), "same generation keeps its trace")
	require.Equal(t, older, resourcetrace.Value(t.Context(), resourceAt("1", older), 1), "a resync keeps it too")
	require.Equal(t, mine, resourcetrace.Value(ctx, resourceAt("1", older), 2), "a new generation takes the event's")
	require.Equal(t, mine, resourcetrace.Value(ctx, resourceAt("2", ""), 2), "none yet for the generation")
	require.Empty(t, resourcetrace.Value(t.Context(), resourceAt("1", older), 2), "a new generation no traced event brought")
}

// TestStart: while converging, a child of the resource's trace context;
// once converged, a new trace linked to it.
func TestStart(t *testing.T) {
	rec := telemetrytest.Record(t)
	ctx, origin := telemetry.Tracer().Start(t.Context(), "consume")
	ws := resourceAt("1", telemetry.Traceparent(ctx))
	origin.End()

	_, s := resourcetrace.Start(t.Context(), "reconcile Workspace", ws, false)
	s.End()
	_, s = resourcetrace.Start(t.Context(), "reconcile Workspace", ws, true)
	s.End()
	_, s = resourcetrace.Start(t.Context(), "reconcile Workspace", resourceAt("1", ""), false)
	s.End()

	spans := rec.Ended()
	require.Len(t, spans, 4)
	child, linked, plain := spans[1], spans[2], spans[3]
	require.Equal(t, origin.SpanContext().TraceID(), child.SpanContext().TraceID())
	require.Equal(t, origin.SpanContext().SpanID(), child.Parent().SpanID())
	require.Contains(t, child.Attributes(), telemetry.WorkspaceID("ws1"))

	require.NotEqual(t, origin.SpanContext().TraceID(), linked.SpanContext().TraceID())
	require.Len(t, linked.Links(), 1)
	require.Equal(t, origin.SpanContext().SpanID(), linked.Links()[0].SpanContext.SpanID())

	require.False(t, plain.Parent().IsValid())
	require.Empty(t, plain.Links())
}

// TestStartOff makes no span without tracing.
func TestStartOff(t *testing.T) {
	ctx, s := resourcetrace.Start(t.Context(), "reconcile Workspace", resourceAt("1", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"), false)
	require.False(t, s.IsRecording())
	require.False(t, trace.SpanContextFromContext(ctx).IsValid())
}

// TestConverged: the status must describe the current spec in a settled phase.
func TestConverged(t *testing.T) {
	for _, tc := range []struct {
		name     string
		phase    v1alpha1.Phase
		observed int64
		timeline *v1alpha1.Timeline
		want     bool
	}{
		{"new", "", 0, nil, false},
		{"pending", v1alpha1.PhasePending, 2, nil, false},
		{"reconciling", v1alpha1.PhaseReconciling, 2, nil, false},
		{"running", v1alpha1.PhaseRunning, 2, nil, true},
		{"stopped", v1alpha1.PhaseStopped, 2, nil, true},
		{"failed", v1alpha1.PhaseFailed, 2, nil, true},
		{"an older spec's status", v1alpha1.PhaseRunning, 1, nil, false},
		{"running, the lifecycle generation's timeline", v1alpha1.PhaseRunning, 2, &v1alpha1.Timeline{Generation: 5}, true},
		{"failed, an older lifecycle generation's timeline", v1alpha1.PhaseFailed, 2, &v1alpha1.Timeline{Generation: 4}, false},
	} {
		ws := resourceAt("5", "")
		ws.Generation = 2
		ws.Status.Phase, ws.Status.ObservedGeneration, ws.Status.Timeline = tc.phase, tc.observed, tc.timeline
		require.Equal(t, tc.want, resourcetrace.Converged(ws), tc.name)
	}
}

// TestReported: the orchestrator took a settled report of the generation.
func TestReported(t *testing.T) {
	svc := func(state string) *workspacev1.ServiceStatus { return &workspacev1.ServiceStatus{State: state} }
	running := &workspacev1.Services{Runtime: svc("running"), Terminal: svc("running"), Browser: svc("running"), Canvas: svc("disabled")}
	restarting := &workspacev1.Services{Runtime: svc("running"), Terminal: svc("running"), Browser: svc("restarting"), Canvas: svc("disabled")}
	for _, tc := range []struct {
		name string
		// report is the generation reported; the record is at gen and
		// has taken reports up to observed.
		report, gen, observed int64
		state                 string
		services              *workspacev1.Services
		want                  bool
	}{
		{"creating", 1, 1, 0, "creating", nil, false},
		{"creating, progressing reported", 1, 1, 1, "creating", nil, false},
		{"running reported", 1, 1, 1, "running", running, true},
		{"stop asked, running of the older generation", 2, 2, 1, "running", running, false},
		{"stopping", 2, 2, 2, "stopping", nil, false},
		{"stopped", 2, 2, 2, "stopped", nil, true},
		{"a service restarting", 3, 3, 3, "running", restarting, false},
		{"failed with a service pending", 1, 1, 1, "failed", restarting, true},
		{"moved past the generation", 3, 4, 3, "stopping", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := &workspacev1.Workspace{Generation: tc.gen, ObservedGeneration: tc.observed, State: tc.state, Services: tc.services}
			require.Equal(t, tc.want, resourcetrace.Reported(w, tc.report))
		})
	}
}
