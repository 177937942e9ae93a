package controller

import (
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"aileron.dev/pkg/workspace"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// The operator's part of a workspace's timeline lives in the Workspace
// status (status.timeline), so a step begun before the operator restarted
// keeps its start. Each pass adds the steps it begins and ends the ones it
// sees done; a step once ended keeps its times for the rest of the
// generation, so later passes (resyncs, a pod that fails and comes back)
// change nothing and write nothing. The provisioner reports the ended steps
// into the workspace's timeline.
//
// The times are the operator's own observations: a step ends when a pass
// sees it done, which is after the fact by at most the watch's delay.

// trackTimeline records in st the steps of ws's lifecycle generation that
// the pass obs began or saw done at now. A Workspace Aileron did not write
// has no lifecycle generation and no timeline.
func trackTimeline(ws *v1alpha1.Workspace, st *v1alpha1.WorkspaceStatus, obs observed, now time.Time) {
	gen, ok := ws.LifecycleGeneration()
	if !ok {
		st.Timeline = nil
		return
	}
	tl := st.Timeline
	if tl == nil || tl.Generation != gen {
		tl = &v1alpha1.Timeline{Generation: gen}
	}
	st.Timeline = tl
	stopping := ws.Spec.DesiredState == v1alpha1.DesiredStateStopped
	if !stopping {
		bound := obs.claim != nil && obs.claim.Status.Phase == corev1.ClaimBound
		record(tl, workspace.StepVolumeReady, "", obs.start, bound, now)
		applied := obs.firewall.condition.Type == v1alpha1.ConditionFirewallApplied && obs.firewall.condition.Status == metav1.ConditionTrue
		record(tl, workspace.StepFirewallApplied, "", obs.start, applied, now)
	}
	for _, k := range pods {
		at, written := obs.applied[k]
		if !written {
			continue // disabled, or its write failed this pass
		}
		done := record(tl, workspace.StepDeploymentApplied, string(k), obs.start, true, at)
		switch {
		case done.IsZero(): // no room left
		case stopping:
			record(tl, workspace.StepPodsStopped, string(k), done, stopped(obs.pods[k]), now)
		default:
			trackPod(tl, k, done, obs, now)
		}
	}
}

// trackPod records the way of pod k from its Deployment written (at
// written) to ready: the new pod scheduled, its containers started (image
// pulls included), its readiness probes passed. The first two are seen only
// for a pod made after the Deployment was written (one the generation left
// as it was has no such steps), so the health check's wait begins when the
// containers were seen started or, without them, when the Deployment was
// written; it is recorded once either is known.
func trackPod(tl *v1alpha1.Timeline, k workspace.Service, written time.Time, obs observed, now time.Time) {
	var started time.Time
	if pod := newPod(obs.podsOf[k], stepStart(tl, workspace.StepDeploymentApplied, string(k))); pod != nil {
		scheduled := record(tl, workspace.StepPodScheduled, string(k), written, pod.Spec.NodeName != "", now)
		if !scheduled.IsZero() {
			started = record(tl, workspace.StepContainerStarted, string(k), scheduled, containersRunning(pod), now)
		}
	}
	ready := available(obs.pods[k])
	switch {
	case !started.IsZero():
		record(tl, workspace.StepHealthCheckPassed, string(k), started, ready, now)
	case ready:
		record(tl, workspace.StepHealthCheckPassed, string(k), written, true, now)
	}
}

// newPod is the newest pod of pods made since since (a Deployment write of
// this generation; creation times have a resolution of a second) that is
// not going away; nil if none.
func newPod(pods []corev1.Pod, since *time.Time) *corev1.Pod {
	if since == nil {
		return nil
	}
	floor := since.Truncate(time.Second)
	var out *corev1.Pod
	for i, p := range pods {
		if p.DeletionTimestamp != nil || p.CreationTimestamp.Time.Before(floor) {
			continue
		}
		if out == nil || p.CreationTimestamp.After(out.CreationTimestamp.Time) {
			out = &pods[i]
		}
	}
	return out
}

// containersRunning reports a pod whose every container runs.
func containersRunning(pod *corev1.Pod) bool {
	if len(pod.Status.ContainerStatuses) < len(pod.Spec.Containers) {
		return false
	}
	for _, c := range pod.Status.ContainerStatuses {
		if c.State.Running == nil {
			return false
		}
	}
	return true
}

// find is the index of step (name, target) in tl; -1 if it is not there.
func find(tl *v1alpha1.Timeline, name workspace.Step, target string) int {
	return slices.IndexFunc(tl.Steps, func(s v1alpha1.TimelineStep) bool { return s.Name == string(name) && s.Target == target })
}

// stepStart is when step (name, target) of tl began; nil if it is not there.
func stepStart(tl *v1alpha1.Timeline, name workspace.Step, target string) *time.Time {
	if i := find(tl, name, target); i >= 0 {
		return &tl.Steps[i].StartTime.Time
	}
	return nil
}

// maxTimelineSteps bounds status.timeline.steps (the CRD's MaxItems).
const maxTimelineSteps = 32

// record adds step (name, target) to tl begun at start, unless it is there,
// and ends it at end if done and still under way. It returns when the step
// ended; zero while it is under way.
func record(tl *v1alpha1.Timeline, name workspace.Step, target string, start time.Time, done bool, end time.Time) time.Time {
	i := find(tl, name, target)
	if i < 0 {
		if len(tl.Steps) >= maxTimelineSteps {
			return time.Time{}
		}
		tl.Steps = append(tl.Steps, v1alpha1.TimelineStep{Name: string(name), Target: target, StartTime: micro(start)})
		i = len(tl.Steps) - 1
	}
	s := &tl.Steps[i]
	if s.EndTime == nil && done {
		if end.Before(s.StartTime.Time) {
			end = s.StartTime.Time
		}
		e := micro(end)
		s.EndTime = &e
	}
	if s.EndTime == nil {
		return time.Time{}
	}
	return s.EndTime.Time
}

// micro is t as the API server stores a MicroTime, so a pass that changed
// nothing compares equal to what it read back.
func micro(t time.Time) metav1.MicroTime {
	return metav1.NewMicroTime(t.Truncate(time.Microsecond))
}
