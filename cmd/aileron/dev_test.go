package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// startDev runs `aileron dev` in-process on free ports and returns its REST URL.
func startDev(t *testing.T, extra ...string) string {
	t.Helper()
	args := append([]string{"--data-dir", t.TempDir(), "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", "--nats-port", "-1"}, extra...)
	cfg, err := parseDev(args, io.Discard)
	require.NoError(t, err)
	ready := make(chan string, 1)
	cfg.ready = func(addr string) { ready <- addr }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dev(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	select {
	case addr := <-ready:
		return "http://" + addr
	case err := <-done:
		t.Fatalf("aileron dev stopped: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("aileron dev did not start within 60s")
	}
	return ""
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	out := map[string]any{}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out
}

// TestDevServesTheREADMEDemo runs the README's curl against aileron dev.
func TestDevServesTheREADMEDemo(t *testing.T) {
	base := startDev(t)
	resp, err := http.Post(base+"/api/v1/workspaces", "application/json", strings.NewReader(`{"name": "my-workspace", "provisioner": "docker"}`))
	require.NoError(t, err)
	var w map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&w))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%v", w)
	require.Equal(t, "creating", w["state"])
	id := w["id"].(string)

	// The in-process firewall service computed the policy from the shipped defaults.
	require.Eventually(t, func() bool {
		fw := getJSON(t, base+"/api/v1/workspaces/"+id+"/firewall")
		domains, _ := fw["status"].(map[string]any)["workspace_effective_allowed_domains"].([]any)
		return len(domains) > 0
	}, 20*time.Second, 50*time.Millisecond)

	page, err := http.Get(base + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(page.Body)
	page.Body.Close()
	require.Equal(t, http.StatusOK, page.StatusCode)
	require.Contains(t, string(body), "<html")
}

func TestDevRefusesRemoteListenWithoutAuth(t *testing.T) {
	cfg, err := parseDev([]string{"--data-dir", t.TempDir(), "--http", "0.0.0.0:0", "--grpc", "127.0.0.1:0", "--nats-port", "-1"}, io.Discard)
	require.NoError(t, err)
	err = dev(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.ErrorContains(t, err, "loopback")
}
