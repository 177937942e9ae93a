package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/config"
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

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		nats  config.NATS
		check func(*testing.T, options)
	}{
		{"defaults", nil, nil, config.NATS{URL: "nats://127.0.0.1:4222", Replicas: 1}, nil},
		{"the shared flags", []string{"--nats-url", "nats://a:4222", "--nats-creds", "/c", "--replicas", "3"}, nil,
			config.NATS{URL: "nats://a:4222", Creds: "/c", Replicas: 3}, nil},
		{"the deprecated --nats", []string{"--nats", "nats://old:4222"}, map[string]string{"AILERON_NATS_URL": "nats://env:4222"},
			config.NATS{URL: "nats://old:4222", Replicas: 1}, nil},
		{"the environment", nil, map[string]string{
			"AILERON_NATS_URL": "nats://env:4222", "AILERON_NATS_CREDS": "/env", "AILERON_REPLICAS": "3",
			"AILERON_DOCKER_CONFIG": "/etc/docker.json", "AILERON_LOG_FORMAT": "text", "AILERON_HEALTH_ADDR": ":8081",
		}, config.NATS{URL: "nats://env:4222", Creds: "/env", Replicas: 3}, func(t *testing.T, o options) {
			require.Equal(t, "/etc/docker.json", o.configPath)
			require.Equal(t, "text", o.log.Format)
			require.Equal(t, ":8081", o.health.Addr)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			o, err := parse(tt.args, io.Discard)
			require.NoError(t, err)
			require.Equal(t, tt.nats, o.nats)
			if tt.check != nil {
				tt.check(t, o)
			}
		})
	}
	t.Setenv("AILERON_REPLICAS", "three")
	_, err := parse(nil, io.Discard)
	require.ErrorContains(t, err, `AILERON_REPLICAS="three" (flag --replicas)`)
}
