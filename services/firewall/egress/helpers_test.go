package egress_test

import (
	"net"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
