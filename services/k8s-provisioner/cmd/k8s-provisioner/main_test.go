package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	c, err := parse([]string{"--namespace", "ws", "--image-browser", "reg/chrome:1"})
	require.NoError(t, err)
	require.Equal(t, "ws", c.Provisioner.Namespace)
	require.Equal(t, "reg/chrome:1", c.Provisioner.Images.Browser)
	_, err = parse([]string{"--namespace", ""})
	require.ErrorContains(t, err, "namespace")
	_, err = parse([]string{"--image-canvas", ""})
	require.ErrorContains(t, err, "image")

	f := filepath.Join(t.TempDir(), "defaults.json")
	require.NoError(t, os.WriteFile(f, []byte(`{"services": {"runtime": {"image": "reg/rt:2", "resources": {"limits": {"memory": "2Gi"}}}},
		"storage": {"size": "20Gi", "storageClassName": "fast"}}`), 0o600))
	c, err = parse([]string{"--workspace-defaults-file", f})
	require.NoError(t, err)
	require.Equal(t, "reg/rt:2", c.Provisioner.Images.Runtime)
	require.Equal(t, map[string]any{"limits": map[string]any{"memory": "2Gi"}}, c.Provisioner.Resources["runtime"])
	require.Equal(t, "20Gi", c.Provisioner.StorageSize)
	require.Equal(t, "fast", c.Provisioner.StorageClassName)
	require.NoError(t, os.WriteFile(f, []byte(`{"services": {"gpu": {}}}`), 0o600))
	_, err = parse([]string{"--workspace-defaults-file", f})
	require.ErrorContains(t, err, "gpu")
}

func TestParseEnvironment(t *testing.T) {
	t.Setenv("AILERON_WORKSPACE_NAMESPACE", "env-ws")
	t.Setenv("AILERON_IMAGE_RUNTIME", "reg/rt:env")
	t.Setenv("AILERON_NATS_CREDS", "/creds")
	t.Setenv("AILERON_HEALTH_ADDR", ":9091")
	c, err := parse([]string{"--namespace", "flag-ws", "--health-probe-bind-address", ":9092"})
	require.NoError(t, err)
	require.Equal(t, "flag-ws", c.Provisioner.Namespace, "the command line wins")
	require.Equal(t, "reg/rt:env", c.Provisioner.Images.Runtime)
	require.Equal(t, "/creds", c.NATS.Creds)
	require.Equal(t, ":9092", c.Health.Addr, "the chart's flag name counts as --health-addr")
	require.Equal(t, ":8080", c.MetricsAddr)

	t.Setenv("AILERON_RESYNC", "often")
	_, err = parse(nil)
	require.ErrorContains(t, err, `AILERON_RESYNC="often" (flag --resync)`)
}

func TestParseMetricsAddr(t *testing.T) {
	c, err := parse([]string{"--metrics-bind-address", "0"})
	require.NoError(t, err)
	require.Equal(t, "0", c.MetricsAddr)
	c, err = parse([]string{"--metrics-addr", ":9100"})
	require.NoError(t, err)
	require.Equal(t, ":9100", c.MetricsAddr)
	_, err = parse([]string{"--metrics-bind-address", "9100"})
	require.ErrorContains(t, err, "--metrics-bind-address")
}
