package provisioner

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/workspace"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func timestamp(t *testing.T, s string) *timestamppb.Timestamp {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return timestamppb.New(at)
}

// TestApplyObjectGolden pins the object server-side apply sends, and so the
// fields the provisioner owns: every field of the Workspace it writes, an
// empty allowedDomains included, and no storage or resources it was not
// configured with.
func TestApplyObjectGolden(t *testing.T) {
	images := workspace.PerService[string]{Runtime: "reg.test/runtime:1", Terminal: "reg.test/terminal:1", Browser: "reg.test/chrome:1", Canvas: "reg.test/canvas:1"}
	on := &workspacev1.ServiceStatus{Enabled: true}
	tests := []struct {
		name string
		cfg  Config
		w    *workspacev1.Workspace
	}{
		{
			name: "full",
			cfg: Config{Namespace: "aileron-workspaces", Images: images, StorageSize: "20Gi", StorageClassName: "fast",
				Resources: map[string]map[string]any{
					"runtime": {"limits": map[string]any{"memory": "1Gi", "cpu": "2"}, "requests": map[string]any{"cpu": "500m"}},
					"browser": {"requests": map[string]any{"memory": "512Mi"}},
				}},
			w: &workspacev1.Workspace{Id: "w1", Name: "my ws", Owner: "alice", Provisioner: "kubernetes", DesiredState: "running", Generation: 3,
				Services:                              &workspacev1.Services{Runtime: on, Terminal: on, Browser: on},
				WorkspaceFirewallNetworkAccessEnabled: true, WorkspaceFirewallDomainAccessMode: "allowlist", WorkspaceFirewallAllowedDomains: []string{"example.com", "*.corp.example"},
				BrowserFirewallDomainAccessMode: "deny",
				FirewallStatus:                  &workspacev1.FirewallStatus{Revision: 7},
				Operations: &workspacev1.Operations{
					RestartWorkspaceTime: timestamp(t, "2026-11-30T10:00:00Z"), RestartBrowserTime: timestamp(t, "2026-11-30T11:30:15Z"),
				},
			},
		},
		{
			name: "minimal",
			cfg:  Config{Namespace: "aileron-workspaces", Images: images},
			w: &workspacev1.Workspace{Id: "w2", Owner: "bob", Provisioner: "kubernetes", DesiredState: "stopped", Generation: 1,
				WorkspaceFirewallDomainAccessMode: "allowlist", BrowserFirewallNetworkAccessEnabled: true, BrowserFirewallDomainAccessMode: "unrestricted"},
		},
		{
			name: "storage-size",
			cfg:  Config{Namespace: "ns1", Images: images, StorageSize: "5Gi"},
			w: &workspacev1.Workspace{Id: "w3", Name: "three", Owner: "carol", Provisioner: "kubernetes", DesiredState: "running", Generation: 12,
				Services:                          &workspacev1.Services{Canvas: on},
				WorkspaceFirewallDomainAccessMode: "deny", BrowserFirewallDomainAccessMode: "allowlist", BrowserFirewallAllowedDomains: []string{"example.org"},
				Operations: &workspacev1.Operations{
					RestartRuntimeTime: timestamp(t, "2026-01-02T03:04:05Z"), RestartTerminalTime: timestamp(t, "2026-01-02T03:04:06Z"),
					RestartCanvasTime: timestamp(t, "2026-01-02T03:04:07Z"),
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws, err := resource(tt.cfg, tt.w)
			require.NoError(t, err)
			u, err := applyObject(ws)
			require.NoError(t, err)
			got, err := json.MarshalIndent(u.Object, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			file := filepath.Join("testdata", tt.name+".golden.json")
			if *update {
				require.NoError(t, os.WriteFile(file, got, 0o600))
			}
			want, err := os.ReadFile(file)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got))
		})
	}
}

// TestResourceRefusesMalformedConfig: a typo in a resources field or a
// malformed quantity is an error, not a field silently dropped.
func TestResourceRefusesMalformedConfig(t *testing.T) {
	images := workspace.PerService[string]{Runtime: "r", Terminal: "t", Browser: "b", Canvas: "c"}
	w := &workspacev1.Workspace{Id: "w1", Owner: "alice"}
	for name, cfg := range map[string]Config{
		"unknown field": {Images: images, Resources: map[string]map[string]any{"runtime": {"limit": map[string]any{"memory": "1Gi"}}}},
		"bad quantity":  {Images: images, Resources: map[string]map[string]any{"canvas": {"limits": map[string]any{"memory": "lots"}}}},
		"bad size":      {Images: images, StorageSize: "big"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := resource(cfg, w)
			require.Error(t, err)
		})
	}
}
