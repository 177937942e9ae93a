package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	env := map[string]string{"AILERON_RUNTIME_URL": "http://runtime:8080", "AILERON_MAX_FILE_BYTES": "1024"}
	cfg, err := parseConfig(nil, func(k string) string { return env[k] })
	require.NoError(t, err)
	require.Equal(t, ":8080", cfg.Addr)
	require.Equal(t, "http://runtime:8080", cfg.RuntimeURL)
	require.Equal(t, "canvas", cfg.Dir)
	require.Equal(t, int64(1024), cfg.MaxFileBytes)
	require.Equal(t, 64, cfg.MaxClients)
	require.Equal(t, 10*time.Second, cfg.ShutdownTimeout)

	cfg, err = parseConfig([]string{"--runtime-url", "http://10.0.0.1:8080/", "--dir", "out/site", "--addr", "127.0.0.1:9000"}, func(string) string { return "" })
	require.NoError(t, err)
	require.Equal(t, "out/site", cfg.Dir)
	require.Equal(t, "127.0.0.1:9000", cfg.Addr)

	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "--runtime-url is required"},
		{[]string{"--runtime-url", "runtime:8080"}, "--runtime-url"},
		{[]string{"--runtime-url", "http://runtime:8080/v1"}, "--runtime-url"},
		{[]string{"--runtime-url", "http://runtime:8080", "--dir", "../etc"}, "--dir"},
		{[]string{"--runtime-url", "http://runtime:8080", "--dir", "/workspace/canvas"}, "--dir"},
		{[]string{"--runtime-url", "http://runtime:8080", "--max-file-bytes", "0"}, "--max-file-bytes"},
		{[]string{"--runtime-url", "http://runtime:8080", "--max-clients", "0"}, "--max-clients"},
		{[]string{"--runtime-url", "http://runtime:8080", "--addr", "8080"}, "--addr"},
	} {
		_, err := parseConfig(tt.args, func(string) string { return "" })
		require.ErrorContains(t, err, tt.want, "%q", tt.args)
	}
}
