package controller_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/controller"
	"aileron.dev/services/k8s-provisioner/internal/controller/controllertest"
)

// countingReconciler is a second reconciler, beside the running operator,
// whose uncached client records every request.
func countingReconciler(t *testing.T) (*controller.WorkspaceReconciler, *controllertest.Counter) {
	t.Helper()
	r, n, err := controllertest.CountingReconciler(testEnv.Config, reconcilerConfig)
	require.NoError(t, err)
	return r, n
}

func TestConvergedPassIssuesNoWrites(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*v1alpha1.Workspace)
		state  v1alpha1.Phase
	}{
		{"running", nil, v1alpha1.PhaseRunning},
		{"stopped", func(w *v1alpha1.Workspace) { w.Spec.DesiredState = v1alpha1.DesiredStateStopped }, v1alpha1.PhaseStopped},
		{"unrestricted, canvas off", func(w *v1alpha1.Workspace) {
			w.Spec.Services.Canvas = v1alpha1.ServiceSpec{}
			w.Spec.Firewall.Workspace.DomainAccessMode = v1alpha1.DomainAccessUnrestricted
			w.Spec.Operations.RestartBrowserAt = &metav1.Time{Time: metav1.Now().Rfc3339Copy().Time}
		}, v1alpha1.PhaseRunning},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := createWorkspace(t, tt.mutate)
			kinds := []string{"runtime", "browser"}
			if ws.Spec.Services.Canvas.Enabled {
				kinds = append(kinds, "canvas")
			}
			deployment(t, ws, "runtime")
			rollOut(t, ws, kinds...)
			bindClaim(t, ws)
			waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
				require.Equal(c, tt.state, st.Phase)
				require.True(c, meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionFirewallApplied))
				require.True(c, meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionStorageReady))
			})

			r, n := countingReconciler(t)
			req := reconcile.Request{NamespacedName: client.ObjectKeyFromObject(ws)}
			for pass := range 2 {
				_, err := r.Reconcile(t.Context(), req)
				require.NoError(t, err)
				require.Empty(t, n.Writes(), "pass %d over a converged workspace wrote", pass+1)
			}
			t.Logf("two converged passes: %d reads, 0 writes", n.Reads())
		})
	}
}

// TestCounterSeesWrites keeps the zero-write test honest: the wrapper does
// record writes.
func TestCounterSeesWrites(t *testing.T) {
	ns := newNamespace(t, nil)
	n := &controllertest.Counter{}
	scheme, err := controller.Scheme()
	require.NoError(t, err)
	c, err := client.NewWithWatch(testEnv.Config, client.Options{Scheme: scheme})
	require.NoError(t, err)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: ns}}
	require.NoError(t, controllertest.Counting(c, n).Create(t.Context(), cm))
	require.Equal(t, []string{"create ConfigMap x"}, n.Writes())
}
