package provisioner

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"aileron.dev/pkg/telemetry"
)

// traceParents carries the trace of the event that queued a workspace to
// the reconcile passes that follow, across the queue: the passes of a create
// (until running, failed or given up) belong to the create's trace. The zero
// value is ready; nothing is kept while tracing is off.
type traceParents struct {
	mu sync.Mutex
	// parents holds the trace of id's next pass; active that of its pass
	// in progress.
	parents, active map[string]trace.SpanContext
}

// put remembers the trace of ctx (an event's consume span) as the parent of
// id's next reconcile; a later event's trace replaces an earlier one's.
func (t *traceParents) put(ctx context.Context, id string) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.set(id, sc)
}

// set is put with t.mu held.
func (t *traceParents) set(id string, sc trace.SpanContext) {
	if t.parents == nil {
		t.parents = map[string]trace.SpanContext{}
	}
	t.parents[id] = sc
}

// start begins id's reconcile span, a child of the trace put for id or a
// root of its own (a resync, a retry after the trace was dropped).
func (t *traceParents) start(ctx context.Context, id string) (context.Context, trace.Span) {
	if !telemetry.Enabled() {
		return ctx, trace.SpanFromContext(ctx)
	}
	t.mu.Lock()
	parent, ok := t.parents[id]
	delete(t.parents, id)
	if ok {
		if t.active == nil {
			t.active = map[string]trace.SpanContext{}
		}
		t.active[id] = parent
		ctx = trace.ContextWithSpanContext(ctx, parent)
	}
	t.mu.Unlock()
	return telemetry.Tracer().Start(ctx, telemetry.ReconcileSpan, trace.WithAttributes(telemetry.WorkspaceID(id)))
}

// end ends a reconcile span. A pass that asks to be looked at again (still
// converging, or failed and retried) hands its parent to the next pass, a
// sibling in the same trace, unless an event put a newer one meanwhile.
func (t *traceParents) end(id string, span trace.Span, after time.Duration, err error) {
	if !telemetry.Enabled() {
		return
	}
	telemetry.End(span, err)
	t.mu.Lock()
	defer t.mu.Unlock()
	parent, ok := t.active[id]
	delete(t.active, id)
	if !ok || (after <= 0 && err == nil) {
		return
	}
	if _, newer := t.parents[id]; !newer {
		t.set(id, parent)
	}
}
