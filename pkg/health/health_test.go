package health_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/health"
)

// TestReadyFollowsNATS serves the endpoints on a real listener with the
// NATS readiness check of a real embedded server: ready while connected,
// 503 naming the reason once the server is gone, and alive throughout.
func TestReadyFollowsNATS(t *testing.T) {
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	nc, _, err := bus.Connect(ns.ClientURL(), "health-test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- health.Serve(ctx, ln, health.Handler(bus.Ready(nc))) }()
	base := "http://" + ln.Addr().String()

	expect(t, base+"/healthz", http.StatusOK, "ok")
	expect(t, base+"/readyz", http.StatusOK, "ok")

	ns.Shutdown()
	deadline := time.Now().Add(10 * time.Second)
	for nc.IsConnected() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
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
