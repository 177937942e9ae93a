package frontdoor_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/frontdoor"
)

func TestLoadKeyConcurrentFirstUsesAgree(t *testing.T) {
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Host: "127.0.0.1", Port: -1, Sync: "always"})
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	nc, js, err := bus.Connect(ns.ClientURL(), "test")
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	ctx := context.Background()
	require.NoError(t, bus.Setup(ctx, js, bus.SetupConfig{Replicas: 1}))

	keys := make([]frontdoor.Key, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := frontdoor.LoadKey(ctx, js)
			require.NoError(t, err)
			keys[i] = k
		})
	}
	wg.Wait()
	for _, k := range keys {
		require.Len(t, k, 32)
		require.Equal(t, keys[0], k)
	}
	a, b := keys[0].WorkspaceSecret("w1"), keys[0].WorkspaceSecret("w2")
	require.Len(t, a, 64)
	require.NotEqual(t, a, b)
	require.NotEqual(t, keys[0].Derive("ticket"), keys[0].Derive("ingress"))
	again, err := frontdoor.LoadKey(ctx, js)
	require.NoError(t, err)
	require.Equal(t, a, again.WorkspaceSecret("w1"))
}
