package controller

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"aileron.dev/pkg/workspace"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

func TestSubset(t *testing.T) {
	tests := []struct {
		name       string
		want, have any
		ok         bool
	}{
		{"server defaults ignored", map[string]any{"a": 1.0}, map[string]any{"a": 1.0, "b": "x"}, true},
		{"changed value", map[string]any{"a": 1.0}, map[string]any{"a": 2.0}, false},
		{"missing field", map[string]any{"a": 1.0}, map[string]any{}, false},
		{"null matches", map[string]any{"t": nil}, map[string]any{"t": "2026"}, true},
		{"empty object matches", map[string]any{"s": map[string]any{}}, map[string]any{}, true},
		{"list element defaults", []any{map[string]any{"n": "a"}}, []any{map[string]any{"n": "a", "p": "TCP"}}, true},
		{"list length differs", []any{"a"}, []any{"a", "b"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { require.Equal(t, tt.ok, subset(tt.want, tt.have)) })
	}
}

func TestSplitDomains(t *testing.T) {
	got := splitDomains("# registries\npypi.org, files.pythonhosted.org\n\n  github.com # code\n")
	require.Equal(t, []string{"pypi.org", "files.pythonhosted.org", "github.com"}, got)
	require.Empty(t, splitDomains(""))
}

func TestRestartAnnotations(t *testing.T) {
	t1 := metav1.NewTime(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC))
	t2 := metav1.NewTime(t1.Add(time.Hour))
	ws := &v1alpha1.Workspace{}
	ws.Spec.Operations = v1alpha1.OperationsSpec{RestartTerminalAt: &t1, RestartBrowserAt: &t1}

	require.Equal(t, map[string]string{"aileron.io/restart-terminal-at": "2026-11-30T10:00:00Z"},
		restartAnnotations(ws, workspace.ServiceRuntime, nil))
	require.Nil(t, restartAnnotations(ws, workspace.ServiceCanvas, nil))
	// An older spec timestamp keeps the newer one already acted on.
	prev := map[string]string{"aileron.io/restart-browser-at": t2.UTC().Format(time.RFC3339)}
	require.Equal(t, prev, restartAnnotations(ws, workspace.ServiceBrowser, prev))
	require.True(t, lastRestart(prev).Equal(&t2))
}
