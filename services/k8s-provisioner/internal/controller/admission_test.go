package controller_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/controller/controllertest"
)

// TestPodTemplatesPassRestrictedAdmission creates, as a server-side dry run,
// a Pod from each pod template in a namespace that enforces the restricted
// Pod Security Standard. A privileged Pod in the same namespace is refused,
// which proves the admission plugin is really on.
func TestPodTemplatesPassRestrictedAdmission(t *testing.T) {
	ctx := t.Context()
	ns := newNamespace(t, map[string]string{
		"pod-security.kubernetes.io/enforce":         "restricted",
		"pod-security.kubernetes.io/enforce-version": "latest",
	})
	ws := controllertest.Workspace(ns, "w1")
	require.NoError(t, k8s.Create(ctx, ws))

	for _, k := range []string{"runtime", "browser", "canvas"} {
		dep := deployment(t, ws, k)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{GenerateName: dep.Name + "-", Namespace: ns, Labels: dep.Spec.Template.Labels},
			Spec:       dep.Spec.Template.Spec,
		}
		require.NoError(t, k8s.Create(ctx, pod, client.DryRunAll), "%s pod template refused", k)
	}

	bad := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "privileged", Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "busybox",
			SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
		}}},
	}
	err := k8s.Create(ctx, bad, client.DryRunAll)
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "violates PodSecurity"), err.Error())
}

// TestValidation checks the CRD's OpenAPI and CEL rules on the real server.
func TestValidation(t *testing.T) {
	ns := newNamespace(t, nil)
	tests := []struct {
		name   string
		mutate func(*v1alpha1.Workspace)
		want   string
	}{
		{"bad id", func(w *v1alpha1.Workspace) { w.Spec.WorkspaceID = "Not_DNS" }, "spec.workspaceId"},
		{"image required", func(w *v1alpha1.Workspace) { w.Spec.Services.Browser.Image = "" }, "image is required when the service is enabled"},
		{"bad mode", func(w *v1alpha1.Workspace) { w.Spec.Firewall.Browser.DomainAccessMode = "open" }, "spec.firewall.browser.domainAccessMode"},
		{"bad state", func(w *v1alpha1.Workspace) { w.Spec.DesiredState = "Paused" }, "spec.desiredState"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := controllertest.Workspace(ns, "v1")
			tt.mutate(ws)
			err := k8s.Create(t.Context(), ws)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.want)
		})
	}

	ws := controllertest.Workspace(ns, "v2")
	ws.Spec.Services.Canvas = v1alpha1.ServiceSpec{} // left out: disabled
	ws.Spec.Storage = v1alpha1.StorageSpec{}
	require.NoError(t, k8s.Create(t.Context(), ws))
	require.Equal(t, "10Gi", ws.Spec.Storage.Size.String(), "size defaults")
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		cur := &v1alpha1.Workspace{}
		require.NoError(c, k8s.Get(t.Context(), client.ObjectKeyFromObject(ws), cur))
		cur.Spec.WorkspaceID = "other"
		cur.Spec.Storage.StorageClassName = ptr.To("fast")
		err := k8s.Update(t.Context(), cur)
		require.Error(c, err)
		require.Contains(c, err.Error(), "workspaceId is immutable")
		require.Contains(c, err.Error(), "storageClassName is immutable")
	}, waitFor, tick)
}
