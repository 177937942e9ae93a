package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "defaults", args: []string{"--chromium", "/usr/bin/chromium"}, check: func(t *testing.T, c Config) {
			require.Equal(t, ":8080", c.Addr)
			require.Equal(t, "", c.Proxy)
			require.Equal(t, int64(16<<20), c.MaxMessageBytes)
			require.Equal(t, "1280,800", c.WindowSize)
		}},
		{name: "chromium found", check: func(t *testing.T, c Config) {
			require.Equal(t, "/usr/lib/chromium/chromium", c.Chromium) // Debian's chromium on this host
		}},
		{name: "env from flag name", args: []string{"--chromium", "/c"}, env: map[string]string{"AILERON_ADDR": ":9", "AILERON_MAX_CONNECTIONS": "3"}, check: func(t *testing.T, c Config) {
			require.Equal(t, ":9", c.Addr)
			require.Equal(t, 3, c.MaxConnections)
		}},
		{name: "proxy from HTTPS_PROXY", args: []string{"--chromium", "/c"}, env: map[string]string{"HTTPS_PROXY": "http://egress:3128", "HTTP_PROXY": "http://other:1"}, check: func(t *testing.T, c Config) {
			require.Equal(t, "http://egress:3128", c.Proxy)
		}},
		{name: "proxy from http_proxy", args: []string{"--chromium", "/c"}, env: map[string]string{"http_proxy": "http://egress:3128"}, check: func(t *testing.T, c Config) {
			require.Equal(t, "http://egress:3128", c.Proxy)
		}},
		{name: "proxy flag wins", args: []string{"--chromium", "/c", "--proxy", "http://mine:1"}, env: map[string]string{"HTTPS_PROXY": "http://egress:3128"}, check: func(t *testing.T, c Config) {
			require.Equal(t, "http://mine:1", c.Proxy)
		}},
		{name: "bad proxy", args: []string{"--chromium", "/c", "--proxy", "http://egress"}, wantErr: "--proxy"},
		{name: "bad addr", args: []string{"--chromium", "/c", "--addr", "nope"}, wantErr: "--addr"},
		{name: "bad window", args: []string{"--chromium", "/c", "--window-size", "big"}, wantErr: "--window-size"},
		{name: "zero connections", args: []string{"--chromium", "/c", "--max-connections", "0"}, wantErr: "--max-connections"},
		{name: "backoff order", args: []string{"--chromium", "/c", "--min-backoff", "1m", "--max-backoff", "1s"}, wantErr: "--min-backoff"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseConfig(tc.args, func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

// TestRunServesAndStops runs the daemon as main does (minus the user
// check, the tests run as root) until Chromium answers, then stops it.
func TestRunServesAndStops(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	cfg, err := parseConfig([]string{"--addr", addr, "--chromium", "/usr/bin/chromium", "--data-dir", t.TempDir()}, func(string) string { return "" })
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() { done <- serve(ctx, cfg, log) }()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, time.Minute, 20*time.Millisecond)
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
}
