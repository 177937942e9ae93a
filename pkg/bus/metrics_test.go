package bus_test

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/metrics"
)

// TestConnectedGauge: aileron_nats_connected is 1 while the connection is up
// and drops to 0 when the server goes away.
func TestConnectedGauge(t *testing.T) {
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), InProcess: true, Sync: "always"})
	require.NoError(t, err)
	t.Cleanup(ns.Shutdown)
	nc, _, err := bus.Connect("", t.Name(), nats.InProcessServer(ns))
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	reg := metrics.NewRegistry()
	require.NoError(t, metrics.Register(reg, bus.Collectors(nc)...))

	connected := func() float64 {
		v, err := metrics.Sum(reg, "aileron_nats_connected", nil)
		require.NoError(t, err)
		return v
	}
	require.Equal(t, 1.0, connected())
	reconnects, err := metrics.Sum(reg, "aileron_nats_reconnects_total", nil)
	require.NoError(t, err)
	require.Equal(t, 0.0, reconnects)

	ns.Shutdown()
	require.Eventually(t, func() bool { return connected() == 0 }, 10*time.Second, 10*time.Millisecond)
}
