package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/services/api/apitest"
)

// BenchmarkRESTvsGRPC measures create and get through the REST gateway and
// directly over gRPC, interleaved call by call in one run so machine noise
// hits both alike, and reports latency percentiles and the REST/gRPC ratio.
func BenchmarkRESTvsGRPC(b *testing.B) {
	env := apitest.Start(b, apitest.Options{})
	ctx := context.Background()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	rest := func(method, path string, body []byte) {
		req, _ := http.NewRequest(method, env.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		require.NoError(b, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Less(b, resp.StatusCode, 300)
	}
	seed, err := env.Client.CreateWorkspace(ctx, &workspacev1.CreateWorkspaceRequest{Name: "seed"})
	require.NoError(b, err)
	id := seed.Workspace.Id

	ops := []struct {
		name string
		rest func(i int)
		grpc func(i int)
	}{
		{"create",
			func(i int) { rest("POST", "/api/v1/workspaces", fmt.Appendf(nil, `{"name":"r-%d"}`, i)) },
			func(i int) {
				_, err := env.Client.CreateWorkspace(ctx, &workspacev1.CreateWorkspaceRequest{Name: fmt.Sprintf("g-%d", i)})
				require.NoError(b, err)
			}},
		{"get",
			func(int) { rest("GET", "/api/v1/workspaces/"+id, nil) },
			func(int) {
				_, err := env.Client.GetWorkspace(ctx, &workspacev1.GetWorkspaceRequest{Id: id})
				require.NoError(b, err)
			}},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			restLat := make([]time.Duration, 0, b.N)
			grpcLat := make([]time.Duration, 0, b.N)
			base := time.Now().UnixNano()
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				t0 := time.Now()
				op.rest(int(base) + i)
				t1 := time.Now()
				op.grpc(int(base) + i)
				restLat = append(restLat, t1.Sub(t0))
				grpcLat = append(grpcLat, time.Since(t1))
			}
			elapsed := time.Since(start)
			reportLatency(b, "rest", restLat)
			reportLatency(b, "grpc", grpcLat)
			b.ReportMetric(float64(pct(restLat, 50))/float64(pct(grpcLat, 50)), "rest/grpc-p50")
			b.ReportMetric(float64(pct(restLat, 95))/float64(pct(grpcLat, 95)), "rest/grpc-p95")
			b.ReportMetric(float64(2*b.N)/elapsed.Seconds(), "calls/s")
		})
	}
}

func reportLatency(b *testing.B, name string, lat []time.Duration) {
	for _, p := range []int{50, 95, 99} {
		b.ReportMetric(float64(pct(lat, p).Microseconds()), fmt.Sprintf("%s-p%d-µs", name, p))
	}
}

func pct(lat []time.Duration, p int) time.Duration {
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
