package controller_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

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

// TestTimelineFollowsTheConvergence: the operator's steps of a lifecycle
// generation are in the Workspace status. Each begins when the operator
// wrote what it waits for and ends when a pass saw it done, never before
// the cluster did it; passes after that change nothing; the next
// generation starts them over.
func TestTimelineFollowsTheConvergence(t *testing.T) {
	ws := createWorkspace(t, func(ws *v1alpha1.Workspace) {
		ws.Annotations = map[string]string{v1alpha1.AnnotationGeneration: "1"}
	})
	pods := []string{"runtime", "browser", "canvas"}

	// The children are written, nothing is ready yet.
	waitStatus(t, ws, func(c *assert.CollectT, st v1alpha1.WorkspaceStatus) {
		require.NotNil(c, st.Timeline)
		require.Equal(c, int64(1), st.Timeline.Generation)
		for _, k := range pods {
			ended(c, st, "deployment_applied", k)
			require.NotNil(c, stepOf(st, "health_check_passed", k), k)
			require.Nil(c, stepOf(st, "health_check_passed", k).EndTime, "%s is not rolled out yet", k)
		}
		require.NotNil(c, stepOf(st, "volume_ready", ""))
		require.Nil(c, stepOf(st, "volume_ready", "").EndTime, "the claim is not bound yet")
		ended(c, st, "firewall_applied", "")
	})

	bound := time.Now()
	bindClaim(t, ws)
	rolled := map[string]time.Time{}
	for _, k := range pods {
		rolled[k] = time.Now()
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
	require.Len(t, st.Timeline.Steps, 2+2*len(pods), "%+v", st.Timeline.Steps)
	for _, s := range st.Timeline.Steps {
		require.False(t, s.EndTime.Before(&s.StartTime), "%s %s ends before it starts", s.Name, s.Target)
	}
	require.False(t, ended(t, st, "volume_ready", "").Before(bound), "the volume was seen bound before it was")
	for _, k := range pods {
		applied := ended(t, st, "deployment_applied", k)
		health := stepOf(st, "health_check_passed", k)
		require.True(t, health.StartTime.Time.Equal(applied), "%s: the wait for its pod begins when its Deployment is written", k)
		require.False(t, health.EndTime.Time.Before(rolled[k]), "%s was seen ready before it was", k)
	}

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
			require.NotNil(c, stepOf(st, "pods_stopped", k), k)
			require.Nil(c, stepOf(st, "pods_stopped", k).EndTime, "%s still has its pod", k)
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
