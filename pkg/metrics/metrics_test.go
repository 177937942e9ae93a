package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/metrics"
)

// TestMux serves a service's own counter, the Go collector and the health
// handler from one listener; registering the same metric twice fails rather
// than panicking.
func TestMux(t *testing.T) {
	reg := metrics.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Namespace: metrics.Namespace, Name: "test_things_total", Help: "Things."})
	require.NoError(t, metrics.Register(reg, c))
	require.Error(t, metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{Namespace: metrics.Namespace, Name: "test_things_total", Help: "Things."})))
	require.NoError(t, metrics.Register(nil, c))
	c.Add(3)
	health := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	srv := httptest.NewServer(metrics.Mux(health, reg))
	defer srv.Close()

	body := get(t, srv.URL+"/metrics")
	require.Contains(t, body, "aileron_test_things_total 3\n")
	require.Contains(t, body, "go_goroutines ")
	require.Contains(t, body, "process_cpu_seconds_total ")
	require.Equal(t, "ok\n", get(t, srv.URL+"/healthz"))
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return strings.TrimSpace(string(b)) + "\n"
}
