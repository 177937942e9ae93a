package controller_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

func TestRestartRollsOnlyItsComponent(t *testing.T) {
	at := metav1.NewTime(time.Now().Add(time.Hour).Truncate(time.Second))
	tests := []struct {
		name  string
		set   func(*v1alpha1.OperationsSpec)
		rolls []string // Deployments whose pods roll
	}{
		{"runtime", func(o *v1alpha1.OperationsSpec) { o.RestartRuntimeAt = &at }, []string{"runtime"}},
		// The terminal shares the runtime's pod.
		{"terminal", func(o *v1alpha1.OperationsSpec) { o.RestartTerminalAt = &at }, []string{"runtime"}},
		{"browser", func(o *v1alpha1.OperationsSpec) { o.RestartBrowserAt = &at }, []string{"browser"}},
		{"canvas", func(o *v1alpha1.OperationsSpec) { o.RestartCanvasAt = &at }, []string{"canvas"}},
		{"workspace", func(o *v1alpha1.OperationsSpec) { o.RestartWorkspaceAt = &at }, []string{"runtime", "browser", "canvas"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := createWorkspace(t, nil)
			before := map[string]*appsv1.Deployment{}
			for _, k := range []string{"runtime", "browser", "canvas"} {
				before[k] = deployment(t, ws, k)
			}
			update(t, ws, func(w *v1alpha1.Workspace) { tt.set(&w.Spec.Operations) })

			waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
				byName := map[string]*metav1.Time{
					"runtime": st.Services.Runtime.LastRestartAt, "terminal": st.Services.Terminal.LastRestartAt,
					"browser": st.Services.Browser.LastRestartAt, "canvas": st.Services.Canvas.LastRestartAt,
				}
				for name, last := range byName {
					pod := name
					if name == "terminal" {
						pod = "runtime"
					}
					if contains(tt.rolls, pod) {
						require.NotNil(c, last, name)
						require.True(c, last.Equal(&at), name)
					} else {
						require.Nil(c, last, name)
					}
				}
			})
			for k, old := range before {
				now := &appsv1.Deployment{}
				get(t, t.Context(), ws, old.Name, now)
				rolled := contains(tt.rolls, k)
				if rolled {
					require.Equal(t, at.UTC().Format(time.RFC3339),
						now.Spec.Template.Annotations["aileron.io/restart-"+tt.name+"-at"], k)
					require.Greater(t, now.Generation, old.Generation, k)
				} else {
					require.Equal(t, old.Generation, now.Generation, "%s must not roll", k)
					require.Equal(t, old.Spec.Template, now.Spec.Template, "%s must not roll", k)
				}
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestOlderRestartDoesNotRollAgain(t *testing.T) {
	later := metav1.NewTime(time.Now().Truncate(time.Second))
	earlier := metav1.NewTime(later.Add(-time.Minute))
	ws := createWorkspace(t, func(w *v1alpha1.Workspace) { w.Spec.Operations.RestartBrowserAt = &later })
	dep := deployment(t, ws, "browser")
	require.Equal(t, later.UTC().Format(time.RFC3339), dep.Spec.Template.Annotations["aileron.io/restart-browser-at"])

	update(t, ws, func(w *v1alpha1.Workspace) { w.Spec.Operations.RestartBrowserAt = &earlier })
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.NotNil(c, st.Services.Browser.LastRestartAt)
		require.True(c, st.Services.Browser.LastRestartAt.Equal(&later))
	})
	now := deployment(t, ws, "browser")
	require.Equal(t, dep.Generation, now.Generation, "an older timestamp must not roll the pods")
}

func TestFirewallChangeUpdatesPolicyAndStatus(t *testing.T) {
	ws := createWorkspace(t, nil)
	require.EventuallyWithT(t, func(c *assert.CollectT) { cnp(c, t.Context(), ws, "browser") }, waitFor, tick)
	runtime := deployment(t, ws, "runtime")

	update(t, ws, func(w *v1alpha1.Workspace) {
		w.Spec.Firewall.Browser = v1alpha1.FirewallGroupSpec{
			NetworkAccessEnabled: true, DomainAccessMode: v1alpha1.DomainAccessAllowlist,
			AllowedDomains: []string{"docs.aileron.dev"},
		}
		w.Spec.Firewall.Workspace.NetworkAccessEnabled = false
	})
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, []string{"*.google.com", "docs.aileron.dev"}, st.Firewall.Browser.EffectiveAllowedDomains)
		require.True(c, meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionFirewallApplied))
	})
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.Equal(c, []string{"**.google.com", "docs.aileron.dev"}, fqdns(c, cnp(c, t.Context(), ws, "browser")))
		// Network access off: nothing leaves the workspace.
		requireNothingLeaves(c, ws, cnp(c, t.Context(), ws, "workspace"))
	}, waitFor, tick)
	require.Equal(t, runtime.Generation, deployment(t, ws, "runtime").Generation, "a firewall change needs no restart")
}

func TestInvalidFirewallFailsClosed(t *testing.T) {
	ws := createWorkspace(t, func(w *v1alpha1.Workspace) {
		w.Spec.Firewall.Workspace.AllowedDomains = []string{"10.0.0.1"}
	})
	cur := waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		fw := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionFirewallApplied)
		require.NotNil(c, fw)
		require.Equal(c, v1alpha1.ReasonInvalidPolicy, fw.Reason)
	})
	fw := meta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionFirewallApplied)
	require.Contains(t, fw.Message, "workspace_firewall_allowed_domains[0]")
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		requireNothingLeaves(c, ws, cnp(c, t.Context(), ws, "workspace"))
	}, waitFor, tick)
}

// requireNothingLeaves checks that a policy's egress reaches only pods of
// the same workspace (the canvas the runtime, the agent the browser): no
// DNS, no names, no addresses outside.
func requireNothingLeaves(c require.TestingT, ws *v1alpha1.Workspace, p *unstructured.Unstructured) {
	egress, _, _ := unstructured.NestedSlice(p.Object, "spec", "egress")
	require.NotEmpty(c, egress, "an empty list would allow everything on old Cilium versions")
	for _, r := range egress {
		rule := r.(map[string]any)
		for k := range rule {
			require.Contains(c, []string{"toEndpoints", "toPorts"}, k, "egress rule %v", rule)
		}
		to, _, _ := unstructured.NestedSlice(rule, "toEndpoints")
		require.Len(c, to, 1, "egress rule %v", rule)
		labels, _, _ := unstructured.NestedStringMap(to[0].(map[string]any), "matchLabels")
		require.Equal(c, ws.Spec.WorkspaceID, labels["aileron.io/workspace-id"], "egress rule %v", rule)
		require.NotContains(c, labels, "io.kubernetes.pod.namespace", "egress rule %v", rule)
	}
}
