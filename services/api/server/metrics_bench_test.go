package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/metrics"
	"aileron.dev/services/api/apitest"
	apiserver "aileron.dev/services/api/server"
)

// BenchmarkMetricsCost measures REST creates against two api services, one
// with metrics and one without, interleaved call by call in one run so
// machine noise hits both alike; it reports each one's creates/s and
// latency and the ratios (with/without).
func BenchmarkMetricsCost(b *testing.B) {
	on := apitest.Start(b, apitest.Options{Server: func(c *apiserver.Config) { c.Metrics = metrics.NewRegistry() }})
	off := apitest.Start(b, apitest.Options{})
	compareCreates(b, func(i int) time.Duration { return restCreate(b, on, i) }, func(i int) time.Duration { return restCreate(b, off, i) })
}

// benchClient is the REST client of the cost benchmarks.
var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}

// restCreate creates workspace b-<i> through env's REST API and returns how
// long the call took.
func restCreate(b *testing.B, env *apitest.Env, i int) time.Duration {
	t0 := time.Now()
	resp, err := benchClient.Post(env.URL+"/api/v1/workspaces", "application/json", bytes.NewReader(fmt.Appendf(nil, `{"name":"b-%d"}`, i)))
	require.NoError(b, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(b, http.StatusCreated, resp.StatusCode)
	return time.Since(t0)
}

// compareCreates runs b.N creates with on and with off, interleaved call by
// call so machine noise hits both alike, and reports each one's creates/s
// and latency and the ratios (on/off) of the medians and the totals.
func compareCreates(b *testing.B, on, off func(i int) time.Duration) {
	onLat := make([]time.Duration, 0, b.N)
	offLat := make([]time.Duration, 0, b.N)
	base := int(time.Now().UnixNano())
	b.ResetTimer()
	for i := range b.N {
		// Alternate which goes first, so neither always follows the other's fsync.
		if i%2 == 0 {
			onLat = append(onLat, on(base+i))
			offLat = append(offLat, off(base+i))
		} else {
			offLat = append(offLat, off(base+i))
			onLat = append(onLat, on(base+i))
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

func sum(lat []time.Duration) time.Duration {
	var s time.Duration
	for _, d := range lat {
		s += d
	}
	return s
}
