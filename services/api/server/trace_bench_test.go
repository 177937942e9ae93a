package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
// ratios (with/without).
func BenchmarkTracingCost(b *testing.B) {
	off := apitest.Start(b, apitest.Options{})
	tp := telemetry.NewProvider("bench", sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = tp.Shutdown(context.Background()) }) // b.Context is done by now
	telemetry.Install(tp)
	on := apitest.Start(b, apitest.Options{})
	telemetry.Uninstall()
	b.Cleanup(telemetry.Uninstall)

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	create := func(env *apitest.Env, i int) time.Duration {
		t0 := time.Now()
		resp, err := client.Post(env.URL+"/api/v1/workspaces", "application/json", bytes.NewReader(fmt.Appendf(nil, `{"name":"b-%d"}`, i)))
		require.NoError(b, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Equal(b, http.StatusCreated, resp.StatusCode)
		return time.Since(t0)
	}
	traced := func(i int) time.Duration {
		telemetry.Install(tp)
		defer telemetry.Uninstall()
		return create(on, i)
	}
	onLat := make([]time.Duration, 0, b.N)
	offLat := make([]time.Duration, 0, b.N)
	base := int(time.Now().UnixNano())
	b.ResetTimer()
	for i := range b.N {
		// Alternate which goes first, so neither always follows the other's fsync.
		if i%2 == 0 {
			onLat = append(onLat, traced(base+i))
			offLat = append(offLat, create(off, base+i))
		} else {
			offLat = append(offLat, create(off, base+i))
			onLat = append(onLat, traced(base+i))
		}
	}
	b.StopTimer()
	reportLatency(b, "on", onLat)
	reportLatency(b, "off", offLat)
	b.ReportMetric(float64(len(onLat))/sum(onLat).Seconds(), "on-creates/s")
	b.ReportMetric(float64(len(offLat))/sum(offLat).Seconds(), "off-creates/s")
	b.ReportMetric(float64(pct(onLat, 50))/float64(pct(offLat, 50)), "on/off-p50")
	b.ReportMetric(sum(onLat).Seconds()/sum(offLat).Seconds(), "on/off-total")
}
