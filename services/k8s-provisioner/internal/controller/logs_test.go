package controller_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/controller/controllertest"
)

// TestLogLinesCarryWorkspaceID drives one Workspace through a failed
// write, running, stopped, a failed Deployment and deletion, and audits
// every line the operator logged meanwhile, at every verbosity: each that
// mentions the workspace carries its workspace_id, controller-runtime's
// own "Reconciler error" included.
func TestLogLinesCarryWorkspaceID(t *testing.T) {
	const id = "logaudit7q2"
	ctx := t.Context()
	ns := newNamespace(t, nil)
	// A quota of no Services makes the operator's first writes fail, so
	// controller-runtime logs the pass's error. The test plays the quota
	// controller, which envtest does not run: admission needs the usage.
	quota := &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "no-services", Namespace: ns},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceServices: resource.MustParse("0")}},
	}
	require.NoError(t, k8s.Create(ctx, quota))
	quota.Status = corev1.ResourceQuotaStatus{Hard: quota.Spec.Hard, Used: corev1.ResourceList{corev1.ResourceServices: resource.MustParse("0")}}
	require.NoError(t, k8s.Status().Update(ctx, quota))

	ws := controllertest.Workspace(ns, id)
	require.NoError(t, k8s.Create(ctx, ws))
	require.Eventually(t, func() bool { return operatorLogs.Count("Reconciler error", "exceeded quota", "ws-"+id+"-") > 0 },
		waitFor, tick, "the operator logs its failed Service writes")
	require.NoError(t, k8s.Delete(ctx, quota))
	// The pass that writes the Services also gives the pods their
	// addresses: roll out the Deployments that pass wrote.
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		ready := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
		require.NotNil(c, ready)
		require.Equal(c, v1alpha1.ReasonProgressing, ready.Reason)
	})

	rollOut(t, ws, "runtime", "browser", "canvas")
	bindClaim(t, ws)
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseRunning, st.Phase)
	})

	update(t, ws, func(w *v1alpha1.Workspace) { w.Spec.DesiredState = v1alpha1.DesiredStateStopped })
	rollOut(t, ws, "runtime", "browser", "canvas")
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseStopped, st.Phase)
	})

	update(t, ws, func(w *v1alpha1.Workspace) { w.Spec.DesiredState = v1alpha1.DesiredStateRunning })
	browser := types.NamespacedName{Namespace: ns, Name: "ws-" + id + "-browser"}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		dep := &appsv1.Deployment{}
		require.NoError(c, k8s.Get(ctx, browser, dep))
		require.Equal(c, int32(1), *dep.Spec.Replicas)
		require.NoError(c, controllertest.MarkReplicaFailure(ctx, k8s, browser, "pods exceed the namespace quota"))
	}, waitFor, tick)
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseFailed, st.Phase)
	})

	require.NoError(t, k8s.Delete(ctx, ws))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(ws), &v1alpha1.Workspace{})
		require.True(c, client.IgnoreNotFound(err) == nil && err != nil, "workspace still exists")
	}, waitFor, tick)

	// controller-runtime's debug dump of its work queue (under load) lists
	// every queued Workspace at once: a line about the queue, not about one.
	unattributed := slices.DeleteFunc(operatorLogs.Unattributed(id), func(line string) bool {
		return strings.Contains(line, "msg=workqueue_items ")
	})
	require.Empty(t, unattributed, "log lines about the workspace without its workspace_id")
	require.Positive(t, operatorLogs.Count("Reconciler error", "workspace_id="+id), "control: controller-runtime's own lines were audited")
}
