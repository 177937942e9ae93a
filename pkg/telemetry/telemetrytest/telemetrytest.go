// Package telemetrytest records the spans a test makes.
package telemetrytest

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"aileron.dev/pkg/telemetry"
)

// Record turns tracing on for the rest of t with every span recorded in
// memory, and off again at t's cleanup. Tracing is global: tests that call
// it must not run in parallel.
func Record(t testing.TB) *tracetest.SpanRecorder {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := telemetry.NewProvider("test", sdktrace.WithSpanProcessor(rec))
	telemetry.Install(tp)
	t.Cleanup(func() {
		telemetry.Uninstall()
		_ = tp.Shutdown(context.Background())
	})
	return rec
}
