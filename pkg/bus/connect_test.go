package bus_test

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/bus"
)

// TestConnectLeavesASilentServer: a server that stops answering without
// closing the connection (a node cut off the network) is given up after a
// few unanswered pings, so the client reconnects to another server of its
// list. With the NATS client's defaults it would take 4 to 6 minutes.
func TestConnectLeavesASilentServer(t *testing.T) {
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Port: -1, Sync: "always"})
	require.NoError(t, err)
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })

	// A proxy in front of the server that, once silent, swallows every byte
	// both ways and keeps the connection open, as a lost link does.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var silent atomic.Bool
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	pipe := func(dst, src net.Conn) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if err != nil {
				return
			}
			if !silent.Load() {
				if _, err := dst.Write(buf[:n]); err != nil {
					return
				}
			}
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil || silent.Load() {
				if c != nil {
					_ = c.Close()
				}
				continue
			}
			s, err := net.Dial("tcp", ns.Addr().String())
			if err != nil {
				_ = c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, s)
			mu.Unlock()
			wg.Add(2)
			go pipe(s, c)
			go pipe(c, s)
		}
	}()

	nc, _, err := bus.Connect("nats://"+l.Addr().String(), t.Name())
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	require.Eventually(t, nc.IsConnected, 30*time.Second, 20*time.Millisecond)
	require.NoError(t, nc.Flush())

	silent.Store(true)
	start := time.Now()
	ok := assert.Eventually(t, func() bool { return !nc.IsConnected() }, time.Minute, 50*time.Millisecond)
	require.True(t, ok, "the client still trusts a silent server after a minute (status %s)", nc.Status())
	t.Logf("silent server given up after %s (ping every %s, %d unanswered)", time.Since(start).Round(time.Millisecond), bus.PingInterval, bus.MaxPingsOut)
}
