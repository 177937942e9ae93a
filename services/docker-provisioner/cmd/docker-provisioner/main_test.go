package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"aileron.dev/pkg/bus"
)

// TestReadyOnTheRealEngine runs the command against a real embedded NATS
// server and this machine's Docker engine: /readyz answers 200, and
// cancelling stops the command cleanly.
func TestReadyOnTheRealEngine(t *testing.T) {
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("AILERON_DOCKER_INSTANCE", "cmd-test")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--nats", ns.ClientURL(), "--health-addr", addr}, &stderr) }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case code := <-done:
			t.Fatalf("run exited %d before it was ready: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never answered 200 (last error %v): %s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d: %s", code, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}
