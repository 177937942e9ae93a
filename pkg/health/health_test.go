package health_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"aileron.dev/pkg/health"
)

// TestEndpoints serves the handler on a real listener: /readyz follows the
// check, /healthz answers throughout, and cancelling stops the server.
// (services/firewall/cmd/firewall tests the check against a real NATS.)
func TestEndpoints(t *testing.T) {
	var down atomic.Bool
	ready := func() error {
		if down.Load() {
			return errors.New("nats reconnecting")
		}
		return nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- health.Serve(ctx, ln, health.Handler(ready)) }()
	base := "http://" + ln.Addr().String()

	expect(t, base+"/healthz", http.StatusOK, "ok")
	expect(t, base+"/readyz", http.StatusOK, "ok")
	down.Store(true)
	expect(t, base+"/readyz", http.StatusServiceUnavailable, "not ready: nats reconnecting")
	expect(t, base+"/healthz", http.StatusOK, "ok")

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still serving after the context ended")
	}
}

func expect(t *testing.T, url string, status int, body string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || !strings.HasPrefix(string(b), body) {
		t.Fatalf("GET %s: %d %q, want %d %q", url, resp.StatusCode, b, status, body)
	}
}
