package controller_test

import (
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
	"aileron.dev/services/k8s-provisioner/internal/controller/controllertest"
)

// stepOf is the step (name, target) of st's timeline, or nil.
func stepOf(st v1alpha1.WorkspaceStatus, name, target string) *v1alpha1.TimelineStep {
	if st.Timeline == nil {
		return nil
	}
	for i, s := range st.Timeline.Steps {
		if s.Name == name && s.Target == target {
			return &st.Timeline.Steps[i]
		}
	}
	return nil
}

// ended is the end of step (name, target) of st, failing c while the step
// is missing or under way.
func ended(c require.TestingT, st v1alpha1.WorkspaceStatus, name, target string) time.Time {
	s := stepOf(st, name, target)
	require.NotNil(c, s, "no step %s %s in %+v", name, target, st.Timeline)
	require.NotNil(c, s.EndTime, "step %s %s is under way", name, target)
	return s.EndTime.Time
}

// underWay fails c unless step (name, target) of st is begun and not ended.
func underWay(c require.TestingT, st v1alpha1.WorkspaceStatus, name, target string) {
	s := stepOf(st, name, target)
	require.NotNil(c, s, "no step %s %s in %+v", name, target, st.Timeline)
	require.Nil(c, s.EndTime, "step %s %s ended", name, target)
}

// TestTimelineFollowsTheConvergence: the operator's steps of a lifecycle
// generation are in the Workspace status. Each begins when the step before
// it ended (or the operator wrote what it waits for) and ends when a pass
// saw it done, never before the cluster did it; passes after that change
// nothing; the next generation starts them over. The test plays the
// scheduler and the kubelet for the runtime's and the browser's pods; the
// canvas's Deployment turns available with no pod seen, as one the
// generation left as it was.
func TestTimelineFollowsTheConvergence(t *testing.T) {
	ws := createWorkspace(t, func(ws *v1alpha1.Workspace) {
		ws.Annotations = map[string]string{v1alpha1.AnnotationGeneration: "1"}
	})
	ctx := t.Context()
	require.NoError(t, k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ws.Namespace}}))
	pods := []string{"runtime", "browser", "canvas"}
	played := []string{"runtime", "browser"}

	// The children are written, nothing runs yet.
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.NotNil(c, st.Timeline)
		require.Equal(c, int64(1), st.Timeline.Generation)
		for _, k := range pods {
			ended(c, st, "deployment_applied", k)
		}
		underWay(c, st, "volume_ready", "")
		ended(c, st, "firewall_applied", "")
	})
	bound := time.Now()
	bindClaim(t, ws)

	marks := map[string]time.Time{}
	mark := func(k, step string) { marks[k+" "+step] = time.Now() }
	made := map[string]*corev1.Pod{}
	for _, k := range played {
		made[k] = createPod(t, deployment(t, ws, k))
	}
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		for _, k := range played {
			underWay(c, st, "pod_scheduled", k)
			require.Nil(c, stepOf(st, "health_check_passed", k), "%s: the health check's wait begins once its containers run", k)
		}
	})
	for _, k := range played {
		mark(k, "pod_scheduled")
		require.NoError(t, k8s.SubResource("binding").Create(ctx, made[k], &corev1.Binding{
			ObjectMeta: metav1.ObjectMeta{Name: made[k].Name}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"},
		}))
	}
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		for _, k := range played {
			ended(c, st, "pod_scheduled", k)
			underWay(c, st, "container_started", k)
		}
	})
	for _, k := range played {
		mark(k, "container_started")
		runContainers(t, made[k])
	}
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		for _, k := range played {
			ended(c, st, "container_started", k)
			underWay(c, st, "health_check_passed", k)
		}
	})
	for _, k := range pods {
		mark(k, "health_check_passed")
		rollOut(t, ws, k)
	}
	cur := waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseRunning, st.Phase)
		for _, k := range pods {
			ended(c, st, "health_check_passed", k)
		}
		ended(c, st, "volume_ready", "")
	})
	st := cur.Status
	require.Len(t, st.Timeline.Steps, 2+2*len(pods)+2*len(played), "%+v", st.Timeline.Steps)
	for _, s := range st.Timeline.Steps {
		require.False(t, s.EndTime.Before(&s.StartTime), "%s %s ends before it starts", s.Name, s.Target)
		if m, ok := marks[s.Target+" "+s.Name]; ok {
			require.False(t, s.EndTime.Time.Before(m), "%s %s was seen done before it was", s.Name, s.Target)
		}
	}
	require.False(t, ended(t, st, "volume_ready", "").Before(bound), "the volume was seen bound before it was")
	follows := func(k, step, after string) {
		require.True(t, stepOf(st, step, k).StartTime.Time.Equal(ended(t, st, after, k)), "%s: %s begins when %s ended", k, step, after)
	}
	for _, k := range played {
		follows(k, "pod_scheduled", "deployment_applied")
		follows(k, "container_started", "pod_scheduled")
		follows(k, "health_check_passed", "container_started")
	}
	require.Nil(t, stepOf(st, "pod_scheduled", "canvas"), "no new canvas pod was seen")
	follows("canvas", "health_check_passed", "deployment_applied")

	// Later passes of the generation change nothing: a pod that fails and
	// comes back is not a step of the create.
	browser := types.NamespacedName{Namespace: ws.Namespace, Name: "ws-w1-browser"}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		require.NoError(c, controllertest.MarkReplicaFailure(t.Context(), k8s, browser, "quota"))
	}, waitFor, tick)
	failed := waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseFailed, st.Phase)
	})
	require.Equal(t, st.Timeline, failed.Status.Timeline)
	rollOut(t, ws, "browser")
	back := waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseRunning, st.Phase)
	})
	require.Equal(t, st.Timeline, back.Status.Timeline)

	// A stop is the next generation: its steps start over.
	update(t, ws, func(w *v1alpha1.Workspace) {
		w.Annotations[v1alpha1.AnnotationGeneration] = "2"
		w.Spec.DesiredState = v1alpha1.DesiredStateStopped
	})
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, int64(2), st.Timeline.Generation)
		for _, k := range pods {
			underWay(c, st, "pods_stopped", k)
		}
	})
	stopped := time.Now()
	rollOut(t, ws, pods...)
	cur = waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseStopped, st.Phase)
		for _, k := range pods {
			require.False(c, ended(c, st, "pods_stopped", k).Before(stopped), k)
		}
	})
	require.Nil(t, stepOf(cur.Status, "health_check_passed", "runtime"), "a stop waits for no health check")
	require.Nil(t, stepOf(cur.Status, "volume_ready", ""), "a stop waits for no volume")
}

// TestNoTimelineWithoutAGeneration: a Workspace Aileron did not write (no
// lifecycle generation) gets no timeline.
func TestNoTimelineWithoutAGeneration(t *testing.T) {
	ws := createWorkspace(t, nil)
	rollOut(t, ws, "runtime", "browser", "canvas")
	bindClaim(t, ws)
	cur := waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.Equal(c, v1alpha1.PhaseRunning, st.Phase)
	})
	require.Nil(t, cur.Status.Timeline)
}

// createPod plays the ReplicaSet controller: a pod of dep's template.
func createPod(t *testing.T, dep *appsv1.Deployment) *corev1.Pod {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: dep.Name + "-", Namespace: dep.Namespace, Labels: dep.Spec.Template.Labels},
		Spec:       dep.Spec.Template.Spec,
	}
	require.NoError(t, k8s.Create(t.Context(), pod))
	return pod
}

// runContainers plays the kubelet: every container of pod runs.
func runContainers(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		cur := &corev1.Pod{}
		require.NoError(c, k8s.Get(t.Context(), client.ObjectKeyFromObject(pod), cur))
		cur.Status.Phase = corev1.PodRunning
		cur.Status.ContainerStatuses = nil
		for _, ctr := range cur.Spec.Containers {
			cur.Status.ContainerStatuses = append(cur.Status.ContainerStatuses, corev1.ContainerStatus{
				Name: ctr.Name, Image: ctr.Image, ImageID: ctr.Image,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}},
			})
		}
		require.NoError(c, k8s.Status().Update(t.Context(), cur))
	}, waitFor, tick)
}
