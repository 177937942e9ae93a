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
