package workspace_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/workspace"
)

func TestPerServiceGet(t *testing.T) {
	var p workspace.PerService[workspace.ServiceConfig]
	for i, s := range workspace.Services {
		p.Get(s).Port = 8080 + i
	}
	require.Equal(t, workspace.PerService[workspace.ServiceConfig]{
		Runtime: workspace.ServiceConfig{Port: 8080}, Terminal: workspace.ServiceConfig{Port: 8081},
		Browser: workspace.ServiceConfig{Port: 8082}, Canvas: workspace.ServiceConfig{Port: 8083},
	}, p)
	require.Nil(t, p.Get("gpu"))
}

// TestServiceConfigJSON pins the names of the docker provisioner's config
// file, which existing files use.
func TestServiceConfigJSON(t *testing.T) {
	var p workspace.PerService[workspace.ServiceConfig]
	require.NoError(t, json.Unmarshal([]byte(`{"browser": {"image": "chrome:1", "port": 9222, "cpus": 1.5, "memory_mb": 2048, "pids": 512}}`), &p))
	require.Equal(t, workspace.ServiceConfig{Image: "chrome:1", Port: 9222, CPUs: 1.5, MemoryMB: 2048, Pids: 512}, p.Browser)
}
