package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceparentKey is the W3C header that holds a span context.
const traceparentKey = "traceparent"

// Traceparent returns the W3C traceparent of the recording span in ctx, ""
// when ctx has none: what an object (a Kubernetes resource's annotation)
// carries to the process that continues the work, where no message header
// can.
func Traceparent(ctx context.Context) string {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ""
	}
	c := propagation.MapCarrier{}
	Propagator.Inject(ctx, c)
	return c.Get(traceparentKey)
}

// ParseTraceparent returns the remote span context a W3C traceparent names;
// it is not valid when v is empty or malformed.
func ParseTraceparent(v string) trace.SpanContext {
	if v == "" {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(Propagator.Extract(context.Background(), propagation.MapCarrier{traceparentKey: v}))
}

// Resume starts span name for work that follows the remote span context
// from: a child of from, in its trace, while follow holds; otherwise the
// root of a trace of its own with a link to from, so that work long after
// (a resync hours later) does not make from's trace grow without end.
// Without a valid from, the span starts in ctx as usual.
func Resume(ctx context.Context, name string, from trace.SpanContext, follow bool, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	switch {
	case !from.IsValid():
	case follow:
		ctx = trace.ContextWithRemoteSpanContext(ctx, from)
	default:
		opts = append(opts, trace.WithNewRoot(), trace.WithLinks(trace.Link{SpanContext: from}))
	}
	return Tracer().Start(ctx, name, opts...)
}
