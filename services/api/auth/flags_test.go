package auth

import (
	"flag"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUnauthenticatedOnlyOnLoopback(t *testing.T) {
	var f Flags
	f.Register(flag.NewFlagSet("t", flag.ContinueOnError))
	a, _, err := f.Build("127.0.0.1:3001", "[::1]:9090", "localhost:1")
	require.NoError(t, err)
	require.True(t, a.Open())
	for _, addr := range []string{":3001", "0.0.0.0:3001", "10.0.0.5:3001"} {
		_, _, err = f.Build("127.0.0.1:9090", addr)
		require.ErrorContains(t, err, addr)
	}
}

func TestLimiterPerCaller(t *testing.T) {
	l := NewLimiter(1, 2)
	require.Zero(t, l.Allow("a"))
	require.Zero(t, l.Allow("a"))
	require.Positive(t, l.Allow("a"))
	require.Zero(t, l.Allow("b"))
}
