package controller

import (
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"aileron.dev/pkg/workspace"
	"aileron.dev/services/firewall/policy"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// observed is what one reconcile pass saw and did.
type observed struct {
	start    time.Time // when the pass began
	claim    *corev1.PersistentVolumeClaim
	pods     map[workspace.Service]*appsv1.Deployment
	applied  map[workspace.Service]time.Time // when each Deployment was found or made as desired
	podsOf   map[workspace.Service][]corev1.Pod
	firewall firewallResult
	err      error
}

// buildStatus derives the status of ws from what the pass observed, and how
// soon to look again when time alone can change it.
func (r *WorkspaceReconciler) buildStatus(ws *v1alpha1.Workspace, obs observed, now time.Time) (v1alpha1.WorkspaceStatus, time.Duration) {
	st := *ws.Status.DeepCopy()
	st.ObservedGeneration = ws.Generation
	st.Services = v1alpha1.ServicesStatus{
		Runtime:  r.componentStatus(ws, workspace.ServiceRuntime, obs.pods[workspace.ServiceRuntime]),
		Terminal: r.componentStatus(ws, workspace.ServiceTerminal, obs.pods[workspace.ServiceRuntime]),
		Browser:  r.componentStatus(ws, workspace.ServiceBrowser, obs.pods[workspace.ServiceBrowser]),
		Canvas:   r.componentStatus(ws, workspace.ServiceCanvas, obs.pods[workspace.ServiceCanvas]),
	}
	st.Firewall = v1alpha1.FirewallStatus{
		Workspace: v1alpha1.FirewallGroupStatus{EffectiveAllowedDomains: nilIfEmpty(obs.firewall.effective[policy.GroupWorkspace].AllowedDomains)},
		Browser:   v1alpha1.FirewallGroupStatus{EffectiveAllowedDomains: nilIfEmpty(obs.firewall.effective[policy.GroupBrowser].AllowedDomains)},
	}
	storage, timedOut, requeue := r.storageCondition(ws, obs.claim)
	phase, ready := phaseOf(ws, obs, timedOut)
	st.Phase = phase
	meta.SetStatusCondition(&st.Conditions, ready)
	meta.SetStatusCondition(&st.Conditions, storage)
	if obs.firewall.condition.Type != "" {
		meta.SetStatusCondition(&st.Conditions, obs.firewall.condition)
	}
	trackTimeline(ws, &st, obs, now)
	return st, requeue
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func (r *WorkspaceReconciler) componentStatus(ws *v1alpha1.Workspace, c workspace.Service, dep *appsv1.Deployment) v1alpha1.ComponentStatus {
	if !ws.Spec.Services.Get(c).Enabled {
		return v1alpha1.ComponentStatus{Phase: v1alpha1.ComponentDisabled}
	}
	cs := v1alpha1.ComponentStatus{Phase: v1alpha1.ComponentPending, URL: r.cfg.url(ws, c)}
	if dep == nil {
		return cs
	}
	cs.LastRestartAt = lastRestart(dep.Spec.Template.Annotations)
	switch {
	case failureOf(dep) != "":
		cs.Phase = v1alpha1.ComponentFailed
	case stopped(dep):
		cs.Phase = v1alpha1.ComponentStopped
	case available(dep):
		cs.Phase, cs.Ready = v1alpha1.ComponentRunning, true
	}
	return cs
}

// available reports a Deployment whose wanted pods are all current and available.
func available(dep *appsv1.Deployment) bool {
	want := ptrValue(dep.Spec.Replicas)
	s := dep.Status
	return want > 0 && s.ObservedGeneration >= dep.Generation &&
		s.UpdatedReplicas >= want && s.AvailableReplicas >= want && s.Replicas == want
}

// stopped reports a Deployment scaled to zero with no pod left.
func stopped(dep *appsv1.Deployment) bool {
	return ptrValue(dep.Spec.Replicas) == 0 && dep.Status.ObservedGeneration >= dep.Generation && dep.Status.Replicas == 0
}

// failureOf returns the reason a Deployment cannot converge, or "".
func failureOf(dep *appsv1.Deployment) string {
	for _, c := range dep.Status.Conditions {
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			return v1alpha1.ReasonReplicaFailure
		}
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded" {
			return v1alpha1.ReasonProgressDeadlineExceeded
		}
	}
	return ""
}

func failureMessage(dep *appsv1.Deployment) string {
	for _, c := range dep.Status.Conditions {
		if c.Type == appsv1.DeploymentReplicaFailure || c.Type == appsv1.DeploymentProgressing {
			return fmt.Sprintf("deployment %s: %s", dep.Name, c.Message)
		}
	}
	return "deployment " + dep.Name + " failed"
}

func ptrValue(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// storageCondition reports the claim; timedOut means a running workspace's
// claim stayed Pending past the deadline.
func (r *WorkspaceReconciler) storageCondition(ws *v1alpha1.Workspace, claim *corev1.PersistentVolumeClaim) (metav1.Condition, bool, time.Duration) {
	if claim == nil {
		return condition(ws, v1alpha1.ConditionStorageReady, false, v1alpha1.ReasonBinding, "claim not created yet"), false, 0
	}
	switch claim.Status.Phase {
	case corev1.ClaimBound:
		return condition(ws, v1alpha1.ConditionStorageReady, true, v1alpha1.ReasonBound, "claim "+claim.Name+" is bound"), false, 0
	case corev1.ClaimLost:
		return condition(ws, v1alpha1.ConditionStorageReady, false, v1alpha1.ReasonClaimLost, "claim "+claim.Name+" lost its volume"), true, 0
	}
	msg := "claim " + claim.Name + " is waiting to bind"
	if ws.Spec.DesiredState == v1alpha1.DesiredStateStopped || claim.CreationTimestamp.IsZero() {
		return condition(ws, v1alpha1.ConditionStorageReady, false, v1alpha1.ReasonBinding, msg), false, 0
	}
	left := r.cfg.StorageBindDeadline - time.Since(claim.CreationTimestamp.Time)
	if left <= 0 {
		return condition(ws, v1alpha1.ConditionStorageReady, false, v1alpha1.ReasonBindTimeout,
			fmt.Sprintf("claim %s did not bind within %s", claim.Name, r.cfg.StorageBindDeadline)), true, 0
	}
	return condition(ws, v1alpha1.ConditionStorageReady, false, v1alpha1.ReasonBinding, msg), false, left + time.Second
}

// phaseOf summarises the pass into a phase and the Ready condition.
func phaseOf(ws *v1alpha1.Workspace, obs observed, storageFailed bool) (v1alpha1.Phase, metav1.Condition) {
	var waiting []string
	availableCount, enabled := 0, 0
	stopping := ws.Spec.DesiredState == v1alpha1.DesiredStateStopped
	for _, k := range pods {
		if !podEnabled(ws, k) {
			continue
		}
		enabled++
		dep := obs.pods[k]
		if dep != nil && failureOf(dep) != "" {
			return v1alpha1.PhaseFailed, condition(ws, v1alpha1.ConditionReady, false, failureOf(dep), failureMessage(dep))
		}
		switch {
		case dep != nil && !stopping && available(dep):
			availableCount++
		case dep != nil && stopping && stopped(dep):
		default:
			waiting = append(waiting, string(k))
		}
	}
	if storageFailed && len(waiting) > 0 {
		return v1alpha1.PhaseFailed, condition(ws, v1alpha1.ConditionReady, false, v1alpha1.ReasonStorageNotBound,
			"the workspace volume is not bound: "+obs.claimName())
	}
	if obs.err != nil {
		return v1alpha1.PhaseReconciling, condition(ws, v1alpha1.ConditionReady, false, v1alpha1.ReasonReconcileError, obs.err.Error())
	}
	if len(waiting) > 0 {
		msg := "waiting for " + strings.Join(waiting, ", ")
		phase := v1alpha1.PhaseReconciling
		if !stopping && availableCount == 0 && enabled > 0 {
			phase = v1alpha1.PhasePending
		}
		return phase, condition(ws, v1alpha1.ConditionReady, false, v1alpha1.ReasonProgressing, msg)
	}
	if stopping {
		return v1alpha1.PhaseStopped, condition(ws, v1alpha1.ConditionReady, true, v1alpha1.ReasonStopped, "stopped; data kept")
	}
	return v1alpha1.PhaseRunning, condition(ws, v1alpha1.ConditionReady, true, v1alpha1.ReasonAvailable, "every enabled service is available")
}

func (o observed) claimName() string {
	if o.claim == nil {
		return "no claim"
	}
	return "claim " + o.claim.Name + " is " + string(o.claim.Status.Phase)
}

// condition builds a condition of ws stamped with its generation.
func condition(ws *v1alpha1.Workspace, typ string, ok bool, reason, msg string) metav1.Condition {
	s := metav1.ConditionFalse
	if ok {
		s = metav1.ConditionTrue
	}
	return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg, ObservedGeneration: ws.Generation}
}
