package provisioner

import (
	"strconv"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/workspace"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

func deletedReport(w *workspacev1.Workspace) *eventsv1.StatusReport {
	return &eventsv1.StatusReport{
		WorkspaceId: w.Id, ObservedGeneration: w.Generation, Phase: string(workspace.PhaseDeleted),
		Reason: "the Workspace resource and its children are gone",
	}
}

// phases maps the operator's summary phase to a report phase; a phase not
// listed (Pending, Reconciling) reports progressing.
var phases = map[v1alpha1.Phase]workspace.Phase{
	v1alpha1.PhaseRunning: workspace.PhaseRunning,
	v1alpha1.PhaseStopped: workspace.PhaseStopped,
	v1alpha1.PhaseFailed:  workspace.PhaseFailed,
}

// statusReport maps a Workspace resource to a report; nil until the operator
// has observed the resource's latest spec.
func statusReport(ws *v1alpha1.Workspace) *eventsv1.StatusReport {
	gen, ok := ws.LifecycleGeneration()
	if !ok || ws.Status.ObservedGeneration != ws.Generation || ws.DeletionTimestamp != nil {
		return nil
	}
	phase, ok := phases[ws.Status.Phase]
	if !ok {
		phase = workspace.PhaseProgressing
	}
	r := &eventsv1.StatusReport{WorkspaceId: ws.Name, ObservedGeneration: gen, Phase: string(phase), Steps: timelineSteps(ws.Status.Timeline, gen)}
	ready := meta.FindStatusCondition(ws.Status.Conditions, v1alpha1.ConditionReady)
	if ready != nil {
		r.Reason = ready.Message
	}
	if phase == workspace.PhaseFailed {
		r.ErrorCode = string(errcode.KubernetesReconcileFailed)
		if ready != nil {
			r.ErrorCode = reasonCode(ready.Reason)
		}
	}
	s := ws.Status.Services
	r.Services = &workspacev1.Services{
		Runtime: serviceStatus(s.Runtime), Terminal: serviceStatus(s.Terminal), Browser: serviceStatus(s.Browser), Canvas: serviceStatus(s.Canvas),
	}
	return r
}

// OperatorReporter names the workspace-operator as the reporter of the
// timeline steps it observed.
const OperatorReporter = "workspace-operator"

// timelineSteps are the steps of tl the operator finished for lifecycle
// generation gen, for the workspace's timeline.
func timelineSteps(tl *v1alpha1.Timeline, gen int64) []*workspacev1.TimelineStep {
	if tl == nil || tl.Generation != gen {
		return nil
	}
	var out []*workspacev1.TimelineStep
	for _, s := range tl.Steps {
		if s.EndTime == nil {
			continue
		}
		out = append(out, &workspacev1.TimelineStep{
			Name: s.Name, Target: s.Target, StartTime: timestamppb.New(s.StartTime.Time),
			Duration: durationpb.New(s.EndTime.Sub(s.StartTime.Time)), Reporter: OperatorReporter,
		})
	}
	return out
}

// serviceStates maps the operator's component phases to service states; a
// component not observed yet is pending.
var serviceStates = map[v1alpha1.ComponentPhase]workspace.ServiceState{
	"":                         workspace.ServicePending,
	v1alpha1.ComponentDisabled: workspace.ServiceDisabled,
	v1alpha1.ComponentPending:  workspace.ServicePending,
	v1alpha1.ComponentRunning:  workspace.ServiceRunning,
	v1alpha1.ComponentStopped:  workspace.ServiceStopped,
	v1alpha1.ComponentFailed:   workspace.ServiceFailed,
}

func serviceStatus(c v1alpha1.ComponentStatus) *workspacev1.ServiceStatus {
	state, ok := serviceStates[c.Phase]
	if !ok {
		state = workspace.ServicePending
	}
	out := &workspacev1.ServiceStatus{Enabled: c.Phase != v1alpha1.ComponentDisabled, State: string(state), Endpoint: c.URL}
	if c.LastRestartAt != nil {
		out.LastRestartTime = timestamppb.New(c.LastRestartAt.Time)
	}
	return out
}

// firewallReport maps the FirewallApplied condition to a firewall report.
func firewallReport(ws *v1alpha1.Workspace) *eventsv1.FirewallReport {
	v, _ := v1alpha1.Annotation(ws.Annotations, v1alpha1.AnnotationFirewallRevision)
	rev, err := strconv.ParseUint(v, 10, 64)
	c := meta.FindStatusCondition(ws.Status.Conditions, v1alpha1.ConditionFirewallApplied)
	if err != nil || c == nil || c.ObservedGeneration != ws.Generation {
		return nil
	}
	r := &eventsv1.FirewallReport{
		WorkspaceId: ws.Name, Revision: rev, Message: c.Message,
		WorkspaceEffectiveAllowedDomains: ws.Status.Firewall.Workspace.EffectiveAllowedDomains,
		BrowserEffectiveAllowedDomains:   ws.Status.Firewall.Browser.EffectiveAllowedDomains,
	}
	phase := workspace.FirewallError
	switch {
	case c.Status == metav1.ConditionTrue:
		phase = workspace.FirewallApplied
	case c.Reason == v1alpha1.ReasonCiliumNotInstalled:
		phase, r.ErrorCode = workspace.FirewallUnavailable, string(errcode.CiliumNotInstalled)
	default:
		r.ErrorCode = reasonCode(c.Reason)
	}
	r.Phase = string(phase)
	return r
}
