package daemon_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/workspace/daemon"
)

func TestRefuseRoot(t *testing.T) {
	require.EqualError(t, daemon.RefuseRoot(0, "run as the workspace user"), "refusing to run as root: run as the workspace user")
	require.NoError(t, daemon.RefuseRoot(65532, "x"))
}

// Serve answers until its context ends, then ends the daemon's streams
// before it drains, and returns nil.
func TestServeDrains(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	done := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	go func() {
		done <- daemon.Serve(ctx, "test daemon", ln, h, 5*time.Second, slog.New(slog.DiscardHandler), func(sctx context.Context) {
			_, hasDeadline := sctx.Deadline()
			require.True(t, hasDeadline, "the streams end within the shutdown bound")
			close(ended)
		})
	}()
	resp, err := http.Get("http://" + ln.Addr().String())
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "ok", string(body))
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	select {
	case <-ended:
	default:
		t.Fatal("the streams were not ended")
	}
	_, err = http.Get("http://" + ln.Addr().String())
	require.Error(t, err, "the port is closed")
}
