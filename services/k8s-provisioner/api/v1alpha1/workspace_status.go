package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Phase summarises a workspace's observed state.
// +kubebuilder:validation:Enum=Pending;Reconciling;Running;Stopped;Failed
type Phase string

const (
	// PhasePending means children are created but not yet available.
	PhasePending Phase = "Pending"
	// PhaseReconciling means the operator is converging a change.
	PhaseReconciling Phase = "Reconciling"
	// PhaseRunning means every enabled component is available.
	PhaseRunning Phase = "Running"
	// PhaseStopped means every component is scaled to zero; data is kept.
	PhaseStopped Phase = "Stopped"
	// PhaseFailed means the workspace cannot converge; the Ready condition
	// carries the reason.
	PhaseFailed Phase = "Failed"
)

// ComponentPhase is the observed state of one component.
// +kubebuilder:validation:Enum=Disabled;Pending;Running;Stopped;Failed
type ComponentPhase string

const (
	// ComponentDisabled means the component is not enabled.
	ComponentDisabled ComponentPhase = "Disabled"
	// ComponentPending means the component's pod is not available yet.
	ComponentPending ComponentPhase = "Pending"
	// ComponentRunning means the component's pod is available.
	ComponentRunning ComponentPhase = "Running"
	// ComponentStopped means the component is scaled to zero.
	ComponentStopped ComponentPhase = "Stopped"
	// ComponentFailed means the component's Deployment reports a failure.
	ComponentFailed ComponentPhase = "Failed"
)

// Condition types of a Workspace.
const (
	// ConditionReady is True when the workspace is in its desired state.
	ConditionReady = "Ready"
	// ConditionFirewallApplied is True when every firewall policy is in place.
	ConditionFirewallApplied = "FirewallApplied"
	// ConditionStorageReady is True when the data volume is bound.
	ConditionStorageReady = "StorageReady"
)

// Condition reasons of a Workspace.
const (
	// ReasonAvailable (Ready=True): every enabled component is available.
	ReasonAvailable = "Available"
	// ReasonStopped (Ready=True): the workspace is stopped as asked.
	ReasonStopped = "Stopped"
	// ReasonProgressing (Ready=False): components are rolling out.
	ReasonProgressing = "Progressing"
	// ReasonReplicaFailure (Ready=False): a Deployment cannot create its pods.
	ReasonReplicaFailure = "ReplicaFailure"
	// ReasonProgressDeadlineExceeded (Ready=False): a rollout stalled.
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
	// ReasonStorageNotBound (Ready=False): the data volume did not bind in time.
	ReasonStorageNotBound = "StorageNotBound"
	// ReasonReconcileError (Ready=False): the operator failed to write a child.
	ReasonReconcileError = "ReconcileError"

	// ReasonPolicyApplied (FirewallApplied=True): the policies are written.
	ReasonPolicyApplied = "PolicyApplied"
	// ReasonCiliumNotInstalled (FirewallApplied=False): the cluster has no
	// CiliumNetworkPolicy resource, so egress is not enforced.
	ReasonCiliumNotInstalled = "CiliumNotInstalled"
	// ReasonInvalidPolicy (FirewallApplied=False): the firewall settings are
	// invalid; a deny-all policy is applied instead.
	ReasonInvalidPolicy = "InvalidPolicy"
	// ReasonPolicyApplyFailed (FirewallApplied=False): writing a policy failed.
	ReasonPolicyApplyFailed = "PolicyApplyFailed"

	// ReasonBound (StorageReady=True): the claim is bound.
	ReasonBound = "Bound"
	// ReasonBinding (StorageReady=False): the claim is waiting to bind.
	ReasonBinding = "Binding"
	// ReasonBindTimeout (StorageReady=False): the claim did not bind in time.
	ReasonBindTimeout = "BindTimeout"
	// ReasonClaimLost (StorageReady=False): the claim lost its volume.
	ReasonClaimLost = "ClaimLost"
)

// WorkspaceStatus is the observed state of a workspace.
type WorkspaceStatus struct {
	// Phase summarises the observed state.
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// ObservedGeneration is the spec generation this status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Ready, FirewallApplied and StorageReady.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Services is the observed state of each component.
	// +optional
	Services ServicesStatus `json:"services,omitempty"`

	// Firewall is the effective firewall policy of each group.
	// +optional
	Firewall FirewallStatus `json:"firewall,omitempty"`

	// Timeline is what the operator did and saw, step by step, for the
	// lifecycle generation it converges now: the provisioner reports its
	// finished steps into the workspace's timeline.
	// +optional
	Timeline *Timeline `json:"timeline,omitempty"`
}

// Timeline is the steps of converging one lifecycle generation.
type Timeline struct {
	// Generation is the orchestrator's generation (the aileron.io/generation
	// annotation) the steps belong to; a new one starts them over.
	Generation int64 `json:"generation"`
	// Steps are in the order they started.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	Steps []TimelineStep `json:"steps,omitempty"`
}

// TimelineStep is one step: volume_ready, firewall_applied,
// deployment_applied, health_check_passed or pods_stopped.
type TimelineStep struct {
	// Name is what the step is.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Name string `json:"name"`
	// Target is the component the step is about; empty for the workspace.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Target string `json:"target,omitempty"`
	// StartTime is when the operator began the step.
	StartTime metav1.MicroTime `json:"startTime"`
	// EndTime is when the operator saw it done; unset while under way.
	// +optional
	EndTime *metav1.MicroTime `json:"endTime,omitempty"`
}

// ServicesStatus is the observed state of each component.
type ServicesStatus struct {
	// Runtime is the runtime's status.
	// +optional
	Runtime ComponentStatus `json:"runtime,omitempty"`
	// Terminal is the terminal's status.
	// +optional
	Terminal ComponentStatus `json:"terminal,omitempty"`
	// Browser is the browser's status.
	// +optional
	Browser ComponentStatus `json:"browser,omitempty"`
	// Canvas is the canvas's status.
	// +optional
	Canvas ComponentStatus `json:"canvas,omitempty"`
}

// ComponentStatus is the observed state of one component.
type ComponentStatus struct {
	// Phase is the component's state.
	// +optional
	Phase ComponentPhase `json:"phase,omitempty"`
	// Ready is true when the component's pod is available.
	Ready bool `json:"ready"`
	// URL is the in-cluster address of the component's Service.
	// +optional
	URL string `json:"url,omitempty"`
	// LastRestartAt is the last restart operation applied to the component.
	// +optional
	LastRestartAt *metav1.Time `json:"lastRestartAt,omitempty"`
}

// FirewallStatus is the effective firewall policy of each group.
type FirewallStatus struct {
	// Workspace is the effective policy of the workspace group.
	// +optional
	Workspace FirewallGroupStatus `json:"workspace,omitempty"`
	// Browser is the effective policy of the browser group.
	// +optional
	Browser FirewallGroupStatus `json:"browser,omitempty"`
}

// FirewallGroupStatus is the effective policy of one firewall group.
type FirewallGroupStatus struct {
	// EffectiveAllowedDomains are the system defaults and the workspace's own
	// domains, normalised, deduplicated and sorted.
	// +optional
	// +listType=atomic
	EffectiveAllowedDomains []string `json:"effectiveAllowedDomains,omitempty"`
}
