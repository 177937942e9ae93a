package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/config"
)

// TestReadinessFollowsNATS runs the command against a real embedded NATS
// server: /readyz answers 200 once connected and 503 once NATS is gone,
// /healthz answers throughout, and cancelling stops the command cleanly.
func TestReadinessFollowsNATS(t *testing.T) {
	ns := startNATS(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--nats-url", ns.ClientURL(), "--health-addr", addr}) }()

	waitStatus(t, done, "http://"+addr+"/readyz", http.StatusOK)
	require.Contains(t, get(t, "http://"+addr+"/metrics"), "\naileron_nats_connected 1\n")
	ns.Shutdown()
	waitStatus(t, done, "http://"+addr+"/readyz", http.StatusServiceUnavailable)
	waitStatus(t, done, "http://"+addr+"/healthz", http.StatusOK)
	require.Contains(t, get(t, "http://"+addr+"/metrics"), "\naileron_nats_connected 0\n", "the alert's gauge follows the connection")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunRefusesAnAddressInUse(t *testing.T) {
	ns := startNATS(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = run(t.Context(), []string{"--nats-url", ns.ClientURL(), "--health-addr", ln.Addr().String()})
	if err == nil || !strings.Contains(err.Error(), "health endpoints") {
		t.Fatalf("want a health endpoints error, got %v", err)
	}
}

func startNATS(t *testing.T) *server.Server {
	t.Helper()
	ns, err := bus.StartEmbedded(bus.EmbeddedConfig{StoreDir: t.TempDir(), Port: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	return ns
}

// waitStatus polls url until it answers want; run ending first fails the test.
func waitStatus(t *testing.T, done <-chan error, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	got := 0
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if got = resp.StatusCode; got == want {
				return
			}
		}
		select {
		case err := <-done:
			t.Fatalf("run returned while waiting for %s: %v", url, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s answered %d, want %d", url, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestParse(t *testing.T) {
	t.Setenv("AILERON_NATS_URL", "nats://env:4222")
	t.Setenv("AILERON_FIREWALL_DEFAULTS_FILE", "/etc/defaults.json")
	t.Setenv("AILERON_LOG_LEVEL", "debug")
	t.Setenv("AILERON_REPLICAS", "3")
	c, err := parse([]string{"--replicas", "5", "--resync", "0s"})
	require.NoError(t, err)
	require.Equal(t, Config{
		NATS:         config.NATS{URL: "nats://env:4222", Replicas: 5},
		Log:          config.Log{Level: slog.LevelDebug, Format: "json"},
		Health:       config.Health{Addr: ":8081"},
		DefaultsFile: "/etc/defaults.json",
	}, c, "the command line wins over the environment")

	for name, tc := range map[string]struct {
		args     []string
		env, err string
	}{
		"malformed replicas": {nil, "AILERON_REPLICAS=three", "AILERON_REPLICAS"},
		"malformed resync":   {nil, "AILERON_RESYNC=soon", "--resync"},
		"negative resync":    {[]string{"--resync=-1s"}, "", "--resync"},
		"no nats url":        {[]string{"--nats-url="}, "", "--nats-url"},
		"bad health address": {[]string{"--health-addr=8081"}, "", "--health-addr"},
	} {
		t.Run(name, func(t *testing.T) {
			if k, v, ok := strings.Cut(tc.env, "="); ok {
				t.Setenv(k, v)
			}
			_, err := parse(tc.args)
			require.ErrorContains(t, err, tc.err)
		})
	}
}

// get returns the body of a GET of url.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
