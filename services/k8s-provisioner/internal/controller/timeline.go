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
			record(tl, workspace.StepHealthCheckPassed, string(k), done, available(obs.pods[k]), now)
		}
	}
}

// maxTimelineSteps bounds status.timeline.steps (the CRD's MaxItems).
const maxTimelineSteps = 32

// record adds step (name, target) to tl begun at start, unless it is there,
// and ends it at end if done and still under way. It returns when the step
// ended; zero while it is under way.
func record(tl *v1alpha1.Timeline, name workspace.Step, target string, start time.Time, done bool, end time.Time) time.Time {
	i := slices.IndexFunc(tl.Steps, func(s v1alpha1.TimelineStep) bool { return s.Name == string(name) && s.Target == target })
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
