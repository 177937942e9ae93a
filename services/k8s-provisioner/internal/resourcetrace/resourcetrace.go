// Package resourcetrace carries the trace of a workspace event through its
// Workspace resource, where no message header can: the k8s provisioner
// writes the trace context of the event that brought a generation onto the
// resource (v1alpha1.AnnotationTraceparent), and the workspace-operator's
// reconcile passes and the provisioner's status reports continue that trace
// while the generation converges. Without tracing nothing is written and no
// span is made.
package resourcetrace

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/telemetry"
	"aileron.dev/pkg/workspace"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// Value is the traceparent annotation the provisioner applies with lifecycle
// generation gen, "" for none. cur is the resource as it is (nil when there
// is none yet): the trace it already carries for gen is kept, so the later
// events and resyncs of one generation neither move it to their own trace
// nor make a write; a new generation takes the trace of ctx. Since the
// provisioner owns what it applies, applying "" removes the annotation
// (a generation no traced event brought has no trace to continue).
func Value(ctx context.Context, cur *v1alpha1.Workspace, gen int64) string {
	if !telemetry.Enabled() {
		return ""
	}
	if cur != nil {
		g, ok := cur.LifecycleGeneration()
		if v := cur.Annotations[v1alpha1.AnnotationTraceparent]; v != "" && ok && g == gen {
			return v
		}
	}
	return telemetry.Traceparent(ctx)
}

// Start starts span name about ws, and is the one rule of which trace it
// joins: while the generation ws's traceparent belongs to converges
// (converged false), a child of that context, so a create's (a stop's, a
// restart's) trace runs on into the operator's passes and writes and into
// the status reports; once converged, the root of a trace of its own with a
// link to it, so resyncs hours later do not make that trace grow for ever.
// Without tracing it returns ctx and a span that does nothing.
func Start(ctx context.Context, name string, ws *v1alpha1.Workspace, converged bool, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !telemetry.Enabled() {
		return ctx, noop.Span{}
	}
	from := telemetry.ParseTraceparent(ws.Annotations[v1alpha1.AnnotationTraceparent])
	attrs = append(attrs, telemetry.WorkspaceID(ws.Name))
	return telemetry.Resume(ctx, name, from, !converged, trace.WithAttributes(attrs...))
}

// settled are the phases a generation converges to.
var settled = map[v1alpha1.Phase]bool{v1alpha1.PhaseRunning: true, v1alpha1.PhaseStopped: true, v1alpha1.PhaseFailed: true}

// Converged reports whether the status of ws says the lifecycle generation
// its annotations name reached Running, Stopped or Failed: the status is of
// the current spec, in a settled phase, and its timeline (when it has one)
// is that generation's. It is what the operator reads at the start of a
// pass, so the pass that gets there is still in the generation's trace and
// the passes after are not.
func Converged(ws *v1alpha1.Workspace) bool {
	if ws.Status.ObservedGeneration != ws.Generation || !settled[ws.Status.Phase] {
		return false
	}
	gen, ok := ws.LifecycleGeneration()
	return !ok || ws.Status.Timeline == nil || ws.Status.Timeline.Generation == gen
}

// Reported reports whether the orchestrator's record w already took the
// report that lifecycle generation gen converged (or has moved past gen):
// what the status reporter reads, so the report that says so is still in
// the generation's trace (the API's consume of "running" ends a create's
// trace) and the reports after are not. A workspace is converged in a
// settled state with no service on its way (a service restart keeps the
// workspace running while that service restarts), or failed.
func Reported(w *workspacev1.Workspace, gen int64) bool {
	if w.GetGeneration() > gen {
		return true
	}
	state := workspace.State(w.GetState())
	if w.GetObservedGeneration() < gen || state.Transitional() {
		return false
	}
	if state == workspace.StateFailed {
		return true
	}
	s := w.GetServices()
	for _, svc := range []*workspacev1.ServiceStatus{s.GetRuntime(), s.GetTerminal(), s.GetBrowser(), s.GetCanvas()} {
		if workspace.ServiceState(svc.GetState()).Transitional() {
			return false
		}
	}
	return true
}
