package main

import (
	"context"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"aileron.dev/pkg/telemetry"
)

// startTracing installs the tracer provider of `aileron dev`: the span tree
// on stderr with --trace, OTLP export with --otlp-endpoint, nothing (the
// no-op provider, no instrumentation) without either.
func startTracing(ctx context.Context, cfg devConfig) (func(), error) {
	var extra []sdktrace.SpanProcessor
	if cfg.Trace {
		extra = append(extra, telemetry.NewTree(cfg.traceOut))
	}
	return telemetry.Setup(ctx, cfg.Tracing, "aileron-dev", extra...)
}
