package provisioner

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"sigs.k8s.io/controller-runtime/pkg/client"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/telemetry"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/resourcetrace"
)

// ReportSpan names the span of one report of a Workspace resource; the
// publishes of the report are its children.
const ReportSpan = "report Workspace"

// traceparent is the trace context to apply with w's resource
// (resourcetrace.Value), "" for none; the resource as it is comes from the
// manager's cache. Without tracing it reads nothing.
func (p *Provisioner) traceparent(ctx context.Context, w *workspacev1.Workspace) string {
	if !telemetry.Enabled() {
		return ""
	}
	cur := &v1alpha1.Workspace{}
	if err := p.c.Get(ctx, client.ObjectKey{Namespace: p.cfg.Namespace, Name: w.Id}, cur); err != nil {
		cur = nil // none yet (or unreadable): the event's trace
	}
	return resourcetrace.Value(ctx, cur, w.Generation)
}

// startReport starts the span of a report of ws (resourcetrace.Start). The
// generation ws carries counts as converged once the orchestrator's record
// took the report that says so: that report is the last one in the
// generation's trace. Without a trace context on ws nothing is read.
func (r *Reporter) startReport(ctx context.Context, ws *v1alpha1.Workspace) (context.Context, trace.Span) {
	if !telemetry.Enabled() {
		return ctx, noop.Span{}
	}
	converged := true
	if gen, ok := ws.LifecycleGeneration(); ok && ws.Annotations[v1alpha1.AnnotationTraceparent] != "" {
		if rec, err := r.store.Get(ctx, ws.Name); err == nil {
			converged = resourcetrace.Reported(rec.Workspace, gen)
		}
	}
	return resourcetrace.Start(ctx, ReportSpan, ws, converged)
}
