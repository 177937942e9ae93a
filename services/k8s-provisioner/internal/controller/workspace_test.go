package controller_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/controller/controllertest"
)

// requireOwned checks the ownership labels and the controller reference.
func requireOwned(t require.TestingT, ws *v1alpha1.Workspace, obj client.Object, component string) {
	l := obj.GetLabels()
	require.Equal(t, "aileron", l["app.kubernetes.io/part-of"], obj.GetName())
	require.Equal(t, ws.Spec.WorkspaceID, l["aileron.io/workspace-id"], obj.GetName())
	require.Equal(t, component, l["aileron.io/component"], obj.GetName())
	refs := obj.GetOwnerReferences()
	require.Len(t, refs, 1, obj.GetName())
	require.Equal(t, "Workspace", refs[0].Kind)
	require.Equal(t, "platform.aileron.io/v1alpha1", refs[0].APIVersion)
	require.Equal(t, ws.UID, refs[0].UID)
	require.True(t, *refs[0].Controller)
	require.True(t, *refs[0].BlockOwnerDeletion)
}

// requireRestricted checks the restricted Pod Security Standard fields.
func requireRestricted(t *testing.T, spec corev1.PodSpec) {
	t.Helper()
	require.False(t, *spec.AutomountServiceAccountToken)
	sc := spec.SecurityContext
	require.True(t, *sc.RunAsNonRoot)
	require.Positive(t, *sc.RunAsUser)
	require.Equal(t, corev1.SeccompProfileTypeRuntimeDefault, sc.SeccompProfile.Type)
	for _, c := range spec.Containers {
		require.False(t, *c.SecurityContext.AllowPrivilegeEscalation, c.Name)
		require.Equal(t, []corev1.Capability{"ALL"}, c.SecurityContext.Capabilities.Drop, c.Name)
	}
}

func TestCreateBuildsEveryChild(t *testing.T) {
	ws := createWorkspace(t, nil)
	ctx := t.Context()

	deps := map[string]*appsv1.Deployment{}
	for _, k := range []string{"runtime", "browser", "canvas"} {
		dep := deployment(t, ws, k)
		deps[k] = dep
		requireOwned(t, ws, dep, k)
		require.Equal(t, int32(1), *dep.Spec.Replicas, k)
		require.Equal(t, appsv1.RecreateDeploymentStrategyType, dep.Spec.Strategy.Type)
		requireRestricted(t, dep.Spec.Template.Spec)
		group := "workspace"
		if k == "browser" {
			group = "browser"
		}
		require.Equal(t, group, dep.Spec.Template.Labels["aileron.io/firewall-group"])
	}
	rt := deps["runtime"].Spec.Template.Spec
	require.Len(t, rt.Containers, 2)
	require.Equal(t, "runtime", rt.Containers[0].Name)
	require.Equal(t, "registry.aileron.test/runtime:1", rt.Containers[0].Image)
	require.Equal(t, "1Gi", rt.Containers[0].Resources.Limits.Memory().String())
	require.Equal(t, "terminal", rt.Containers[1].Name)
	ports := map[string]string{"runtime": "8080", "terminal": "7681"}
	for _, c := range rt.Containers {
		require.Equal(t, []corev1.VolumeMount{{Name: "workspace", MountPath: "/workspace"}, {Name: "tmp", MountPath: "/tmp"}}, c.VolumeMounts, c.Name)
		// Two daemons in one pod: each listens on its own port.
		require.Contains(t, c.Env, corev1.EnvVar{Name: "AILERON_ADDR", Value: ":" + ports[c.Name]}, c.Name)
		require.Contains(t, c.Env, corev1.EnvVar{Name: "HOME", Value: "/workspace/.home"}, c.Name)
		require.Equal(t, "/healthz", c.ReadinessProbe.HTTPGet.Path, c.Name)
		require.True(t, *c.SecurityContext.ReadOnlyRootFilesystem, c.Name)
	}
	// The agent reaches the browser's DevTools, and the canvas the runtime's
	// files API, by cluster IP: no DNS, which a workspace without network
	// access has none of. The canvas mounts no volume (the claim is RWO).
	serviceURL := func(comp string) string {
		svc := &corev1.Service{}
		get(t, ctx, ws, "ws-w1-"+comp, svc)
		return fmt.Sprintf("http://%s:%d", svc.Spec.ClusterIP, svc.Spec.Ports[0].Port)
	}
	// The pod's two daemons know each other: the runtime's activity asks the
	// terminal (and the browser), and a preview through either never reaches
	// the other.
	require.Contains(t, rt.Containers[0].Env, corev1.EnvVar{Name: "AILERON_ACTIVITY_PEER", Value: "http://127.0.0.1:7681," + serviceURL("browser")})
	require.Contains(t, rt.Containers[0].Env, corev1.EnvVar{Name: "AILERON_PREVIEW_DENY_PORT", Value: "7681"})
	require.Contains(t, rt.Containers[1].Env, corev1.EnvVar{Name: "AILERON_PREVIEW_DENY_PORT", Value: "8080"})
	require.Equal(t, "ws-w1-data", rt.Volumes[0].PersistentVolumeClaim.ClaimName)
	require.Len(t, deps["browser"].Spec.Template.Spec.Containers, 1)
	require.Contains(t, rt.Containers[0].Env, corev1.EnvVar{Name: "AILERON_BROWSER_URL", Value: serviceURL("browser")})
	canvas := deps["canvas"].Spec.Template.Spec.Containers[0]
	require.Contains(t, canvas.Env, corev1.EnvVar{Name: "AILERON_RUNTIME_URL", Value: serviceURL("runtime")})
	require.Equal(t, []corev1.VolumeMount{{Name: "tmp", MountPath: "/tmp"}}, canvas.VolumeMounts)

	require.EventuallyWithT(t, func(c *assert.CollectT) {
		for _, comp := range []string{"runtime", "terminal", "browser", "canvas"} {
			svc := &corev1.Service{}
			get(c, ctx, ws, "ws-w1-"+comp, svc)
			requireOwned(c, ws, svc, comp)
			want := "runtime"
			if comp == "browser" || comp == "canvas" {
				want = comp
			}
			require.Equal(c, want, svc.Spec.Selector["aileron.io/component"])
			require.Equal(c, comp, svc.Spec.Ports[0].TargetPort.StrVal)
		}
		pvc := &corev1.PersistentVolumeClaim{}
		get(c, ctx, ws, "ws-w1-data", pvc)
		requireOwned(c, ws, pvc, "storage")
		require.Equal(c, "1Gi", pvc.Spec.Resources.Requests.Storage().String())
		for _, g := range []string{"workspace", "browser"} {
			p := cnp(c, ctx, ws, g)
			requireOwned(c, ws, p, "firewall")
			sel, _, _ := unstructured.NestedStringMap(p.Object, "spec", "endpointSelector", "matchLabels")
			require.Equal(c, map[string]string{"aileron.io/workspace-id": "w1", "aileron.io/firewall-group": g}, sel)
			// Only the group's own pods, the front door and the node get in.
			deny, _, _ := unstructured.NestedBool(p.Object, "spec", "enableDefaultDeny", "ingress")
			require.True(c, deny, g)
			in, _, _ := unstructured.NestedSlice(p.Object, "spec", "ingress")
			require.Len(c, in, 2, g)
			from, _, _ := unstructured.NestedSlice(in[0].(map[string]any), "fromEndpoints")
			want := []any{
				map[string]any{"matchLabels": map[string]any{"aileron.io/workspace-id": "w1", "aileron.io/firewall-group": g}},
				map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/component": "api", "io.kubernetes.pod.namespace": "aileron-system"}},
			}
			if g == "browser" {
				// The runtime's agent drives the browser.
				want = append(want, map[string]any{"matchLabels": map[string]any{"aileron.io/workspace-id": "w1", "aileron.io/firewall-group": "workspace"}})
			}
			require.Equal(c, want, from, g)
		}
		// The workspace group reaches the browser's DevTools port only.
		egress, _, _ := unstructured.NestedSlice(cnp(c, ctx, ws, "workspace").Object, "spec", "egress")
		require.Contains(c, egress, map[string]any{
			"toEndpoints": []any{map[string]any{"matchLabels": map[string]any{"aileron.io/workspace-id": "w1", "aileron.io/firewall-group": "browser"}}},
			"toPorts":     []any{map[string]any{"ports": []any{map[string]any{"port": fmt.Sprint(svcPort(c, ctx, ws, "browser")), "protocol": "TCP"}}}},
		})
	}, waitFor, tick)

	// The workspace group allows its own domains and the system defaults;
	// the browser group is in deny mode: DNS only.
	names := fqdns(t, cnp(t, ctx, ws, "workspace"))
	require.Equal(t, []string{"**.npmjs.org", "files.pythonhosted.org", "github.com", "pypi.org"}, names)
	require.Empty(t, fqdns(t, cnp(t, ctx, ws, "browser")))

	cur := waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		fw := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionFirewallApplied)
		require.NotNil(c, fw)
		require.Equal(c, metav1.ConditionTrue, fw.Status)
		require.Equal(c, v1alpha1.ReasonPolicyApplied, fw.Reason)
		require.Equal(c, v1alpha1.PhasePending, st.Phase)
	})
	require.Equal(t, []string{"*.npmjs.org", "files.pythonhosted.org", "github.com", "pypi.org"},
		cur.Status.Firewall.Workspace.EffectiveAllowedDomains)
	require.Equal(t, []string{"*.google.com"}, cur.Status.Firewall.Browser.EffectiveAllowedDomains)
	for _, cond := range cur.Status.Conditions {
		require.Equal(t, cur.Generation, cond.ObservedGeneration, cond.Type)
	}
	require.Equal(t, "http://ws-w1-terminal."+ws.Namespace+".svc:7681", cur.Status.Services.Terminal.URL)
}

// svcPort is the port of a component's Service.
func svcPort(t require.TestingT, ctx context.Context, ws *v1alpha1.Workspace, comp string) int32 {
	svc := &corev1.Service{}
	get(t, ctx, ws, "ws-w1-"+comp, svc)
	return svc.Spec.Ports[0].Port
}

// fqdns lists the toFQDNs names and patterns of a policy, in rule order.
func fqdns(t require.TestingT, p *unstructured.Unstructured) []string {
	egress, _, err := unstructured.NestedSlice(p.Object, "spec", "egress")
	require.NoError(t, err)
	var out []string
	for _, rule := range egress {
		sels, _, _ := unstructured.NestedSlice(rule.(map[string]any), "toFQDNs")
		for _, s := range sels {
			m := s.(map[string]any)
			if n, ok := m["matchName"].(string); ok {
				out = append(out, n)
			}
			if n, ok := m["matchPattern"].(string); ok {
				out = append(out, n)
			}
		}
	}
	return out
}

func TestReadinessMakesRunning(t *testing.T) {
	ws := createWorkspace(t, nil)
	rollOut(t, ws, "runtime", "browser")
	bindClaim(t, ws)
	// Canvas is still rolling out: not Running yet.
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseReconciling, st.Phase)
		require.True(c, st.Services.Runtime.Ready)
		require.False(c, st.Services.Canvas.Ready)
		require.True(c, meta.IsStatusConditionTrue(st.Conditions, v1alpha1.ConditionStorageReady))
	})
	rollOut(t, ws, "canvas")
	cur := waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseRunning, st.Phase)
	})
	ready := meta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionReady)
	require.Equal(t, metav1.ConditionTrue, ready.Status)
	require.Equal(t, v1alpha1.ReasonAvailable, ready.Reason)
	for name, cs := range map[string]v1alpha1.ComponentStatus{
		"runtime": cur.Status.Services.Runtime, "terminal": cur.Status.Services.Terminal,
		"browser": cur.Status.Services.Browser, "canvas": cur.Status.Services.Canvas,
	} {
		require.Equal(t, v1alpha1.ComponentRunning, cs.Phase, name)
		require.True(t, cs.Ready, name)
		require.Contains(t, cs.URL, "ws-w1-"+name+"."+ws.Namespace+".svc:", name)
	}
}

func TestReplicaFailureFails(t *testing.T) {
	ws := createWorkspace(t, nil)
	deployment(t, ws, "browser")
	key := types.NamespacedName{Namespace: ws.Namespace, Name: "ws-w1-browser"}
	require.NoError(t, controllertest.MarkReplicaFailure(t.Context(), k8s, key, `pods "x" is forbidden: exceeded quota`))
	cur := waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseFailed, st.Phase)
	})
	ready := meta.FindStatusCondition(cur.Status.Conditions, v1alpha1.ConditionReady)
	require.Equal(t, v1alpha1.ReasonReplicaFailure, ready.Reason)
	require.Contains(t, ready.Message, "exceeded quota")
	require.Equal(t, v1alpha1.ComponentFailed, cur.Status.Services.Browser.Phase)
}

func TestStopKeepsClaimAndStartScalesBack(t *testing.T) {
	ws := createWorkspace(t, nil)
	rollOut(t, ws, "runtime", "browser", "canvas")
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseRunning, st.Phase)
	})

	update(t, ws, func(w *v1alpha1.Workspace) { w.Spec.DesiredState = v1alpha1.DesiredStateStopped })
	for _, k := range []string{"runtime", "browser", "canvas"} {
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			dep := &appsv1.Deployment{}
			get(c, t.Context(), ws, "ws-w1-"+k, dep)
			require.Equal(c, int32(0), *dep.Spec.Replicas, k)
		}, waitFor, tick)
	}
	rollOut(t, ws, "runtime", "browser", "canvas")
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseStopped, st.Phase)
		require.Equal(c, v1alpha1.ComponentStopped, st.Services.Runtime.Phase)
	})
	pvc := &corev1.PersistentVolumeClaim{}
	get(t, t.Context(), ws, "ws-w1-data", pvc)
	require.Nil(t, pvc.DeletionTimestamp)

	update(t, ws, func(w *v1alpha1.Workspace) { w.Spec.DesiredState = v1alpha1.DesiredStateRunning })
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		dep := &appsv1.Deployment{}
		get(c, t.Context(), ws, "ws-w1-runtime", dep)
		require.Equal(c, int32(1), *dep.Spec.Replicas)
	}, waitFor, tick)
	after := &corev1.PersistentVolumeClaim{}
	get(t, t.Context(), ws, "ws-w1-data", after)
	require.Equal(t, pvc.UID, after.UID, "start reuses the same claim")
}

func TestDeleteLeavesChildrenToTheGarbageCollector(t *testing.T) {
	ws := createWorkspace(t, nil)
	deployment(t, ws, "runtime")
	cur := &v1alpha1.Workspace{}
	get(t, t.Context(), ws, ws.Name, cur)
	require.Empty(t, cur.Finalizers, "no finalizer: owner references remove every child")
	require.NoError(t, k8s.Delete(t.Context(), cur))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		err := k8s.Get(t.Context(), client.ObjectKeyFromObject(ws), &v1alpha1.Workspace{})
		require.True(c, client.IgnoreNotFound(err) == nil && err != nil, "workspace still exists")
	}, waitFor, tick)
}
