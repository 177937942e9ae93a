package server_test

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"aileron.dev/pkg/telemetry"
	"aileron.dev/services/api/apitest"
)

// BenchmarkTracingCost measures REST creates against two api services, one
// started with tracing on (an SDK provider batching to an exporter that
// drops the spans: the cost of the instrumentation and the SDK, not of a
// collector's network) and one with tracing off, interleaved call by call in
// one run. Tracing is global, so it is switched on just for the traced
// service's calls. It reports each one's creates/s and latency and the
// ratios (with/without): "all" records every trace, as by default; "ratio-0.1"
// records one in ten (the chart's tracing.sampleRatio), the others paying
// for unrecorded spans only.
func BenchmarkTracingCost(b *testing.B) {
	for _, bc := range []struct {
		name    string
		sampler sdktrace.Sampler
	}{
		{"all", sdktrace.ParentBased(sdktrace.AlwaysSample())},
		{"ratio-0.1", sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			off := apitest.Start(b, apitest.Options{})
			tp := telemetry.NewProvider("bench", sdktrace.WithBatcher(tracetest.NewNoopExporter()), sdktrace.WithSampler(bc.sampler))
			b.Cleanup(func() { _ = tp.Shutdown(context.Background()) }) // b.Context is done by now
			telemetry.Install(tp)
			on := apitest.Start(b, apitest.Options{})
			telemetry.Uninstall()
			b.Cleanup(telemetry.Uninstall)

			traced := func(i int) time.Duration {
				telemetry.Install(tp)
				defer telemetry.Uninstall()
				return restCreate(b, on, i)
			}
			compareCreates(b, traced, func(i int) time.Duration { return restCreate(b, off, i) })
		})
	}
}
