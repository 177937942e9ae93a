package egress_test

import (
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/metrics"
	"aileron.dev/services/firewall/egress"
	"aileron.dev/services/firewall/policy"
)

// TestMetrics counts an allowed tunnel with its bytes and a denied request
// by group and reason, and the tunnel's close.
func TestMetrics(t *testing.T) {
	m := egress.NewMetrics()
	reg := prometheus.NewRegistry()
	require.NoError(t, m.Register(reg))
	e := newEnv(t, egress.WithMetrics(m))

	resp, c := e.connect(t, policy.GroupWorkspace, "allowed.test:443")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	tc := tls.Client(c, &tls.Config{ServerName: "allowed.test", RootCAs: e.ca.Pool})
	require.Equal(t, "https allowed.test /hello", tlsGet(t, tc, "allowed.test", "/hello"))
	require.Equal(t, 1.0, metricSum(t, reg, "aileron_egress_tunnels_open", map[string]string{"group": "workspace"}))
	c.Close()
	status, _, _ := e.get(t, policy.GroupBrowser, "https://allowed.test/")
	require.Equal(t, http.StatusForbidden, status)

	require.Equal(t, 1.0, metricSum(t, reg, "aileron_egress_decisions_total", map[string]string{"group": "workspace", "decision": "allow", "reason": egress.ReasonAllowed}))
	require.Equal(t, 1.0, metricSum(t, reg, "aileron_egress_decisions_total", map[string]string{"group": "browser", "decision": "deny", "reason": egress.ReasonNotAllowed}))
	require.Equal(t, 2.0, metricSum(t, reg, "aileron_egress_decisions_total", nil))
	require.Eventually(t, func() bool {
		return metricSum(t, reg, "aileron_egress_tunnels_open", nil) == 0 &&
			metricSum(t, reg, "aileron_egress_tunnel_bytes_total", map[string]string{"group": "workspace", "direction": "upstream"}) > 0 &&
			metricSum(t, reg, "aileron_egress_tunnel_bytes_total", map[string]string{"group": "workspace", "direction": "downstream"}) > 0
	}, 10*time.Second, 20*time.Millisecond, "the tunnel closed and its bytes were counted")
}

// metricSum adds the values of the series of name whose labels include want.
func metricSum(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	n, err := metrics.Sum(reg, name, want)
	require.NoError(t, err)
	return n
}
