package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DesiredState is the lifecycle state the owner of a workspace asks for.
// +kubebuilder:validation:Enum=Running;Stopped
type DesiredState string

const (
	// DesiredStateRunning asks for every enabled service to run.
	DesiredStateRunning DesiredState = "Running"
	// DesiredStateStopped scales every service to zero and keeps the data volume.
	DesiredStateStopped DesiredState = "Stopped"
)

// DomainAccessMode says which external domains a firewall group may reach.
// +kubebuilder:validation:Enum=allowlist;deny;unrestricted
type DomainAccessMode string

const (
	// DomainAccessAllowlist allows only the effective allowed domains.
	DomainAccessAllowlist DomainAccessMode = "allowlist"
	// DomainAccessDeny allows no external domain.
	DomainAccessDeny DomainAccessMode = "deny"
	// DomainAccessUnrestricted allows any public destination, never private,
	// link-local or metadata addresses.
	DomainAccessUnrestricted DomainAccessMode = "unrestricted"
)

// WorkspaceSpec is the desired state of a workspace.
type WorkspaceSpec struct {
	// WorkspaceID is the immutable id of the workspace. Every child object is
	// named after it, so it must fit in a DNS label with a prefix and suffix.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="workspaceId is immutable"
	WorkspaceID string `json:"workspaceId"`

	// Owner identifies the user who owns the workspace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Owner string `json:"owner"`

	// DesiredState is Running (replicas 1) or Stopped (replicas 0, data kept).
	// +optional
	// +kubebuilder:default=Running
	DesiredState DesiredState `json:"desiredState,omitempty"`

	// Services configures the runtime, terminal, browser and canvas services.
	// +optional
	Services WorkspaceServices `json:"services,omitempty"`

	// Storage configures the workspace data volume.
	// +optional
	// +kubebuilder:default={}
	Storage StorageSpec `json:"storage,omitempty"`

	// Firewall configures egress per firewall group.
	// +optional
	Firewall FirewallSpec `json:"firewall,omitempty"`

	// Operations holds one-shot requests, such as restarts, as timestamps:
	// a newer timestamp than the last one acted on triggers the operation.
	// +optional
	Operations OperationsSpec `json:"operations,omitempty"`
}

// WorkspaceServices configures each service of a workspace. The runtime and
// terminal share one pod and the workspace volume; the browser and canvas run
// in pods of their own.
type WorkspaceServices struct {
	// Runtime is the agent runtime.
	// +optional
	Runtime ServiceSpec `json:"runtime,omitempty"`
	// Terminal is the web terminal, in the runtime's pod.
	// +optional
	Terminal ServiceSpec `json:"terminal,omitempty"`
	// Browser is the headless browser, in its own pod with its own firewall policy.
	// +optional
	Browser ServiceSpec `json:"browser,omitempty"`
	// Canvas is the optional canvas service, in its own pod.
	// +optional
	Canvas ServiceSpec `json:"canvas,omitempty"`
}

// ServiceSpec configures one service of a workspace.
// +kubebuilder:validation:XValidation:rule="!self.enabled || (has(self.image) && size(self.image) > 0)",message="image is required when the service is enabled"
type ServiceSpec struct {
	// Enabled runs the service. A service left out is disabled.
	Enabled bool `json:"enabled"`

	// Image is the container image of the service.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Image string `json:"image,omitempty"`

	// Resources are the container's compute requests and limits.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// StorageSpec configures the workspace data volume (a PersistentVolumeClaim
// kept while the workspace is stopped and deleted with it).
// +kubebuilder:validation:XValidation:rule="has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",message="storageClassName is immutable"
type StorageSpec struct {
	// Size is the requested capacity of the volume.
	// +optional
	// +kubebuilder:default="10Gi"
	Size *resource.Quantity `json:"size,omitempty"`

	// StorageClassName selects the storage class; empty uses the cluster default.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	StorageClassName *string `json:"storageClassName,omitempty"`
}

// FirewallSpec configures egress of the two firewall groups of a workspace.
type FirewallSpec struct {
	// Workspace applies to the runtime, terminal and canvas pods.
	// +optional
	Workspace FirewallGroupSpec `json:"workspace,omitempty"`
	// Browser applies to the browser pod.
	// +optional
	Browser FirewallGroupSpec `json:"browser,omitempty"`
}

// FirewallGroupSpec is the firewall setting of one group. The system default
// allowed domains of the group are merged in by the operator.
type FirewallGroupSpec struct {
	// NetworkAccessEnabled false means nothing leaves the pods, not even DNS.
	// +optional
	NetworkAccessEnabled bool `json:"networkAccessEnabled"`

	// DomainAccessMode is allowlist, deny or unrestricted.
	// +optional
	// +kubebuilder:default=allowlist
	DomainAccessMode DomainAccessMode `json:"domainAccessMode,omitempty"`

	// AllowedDomains are the workspace's own allowed domains; a leading "*."
	// matches subdomains.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	AllowedDomains []string `json:"allowedDomains,omitempty"`
}

// OperationsSpec requests restarts. Each timestamp that is newer than the one
// last acted on rolls the pods of its component; restartWorkspaceAt rolls all.
// The terminal shares the runtime's pod, so restarting either rolls that pod.
type OperationsSpec struct {
	// RestartRuntimeAt restarts the runtime.
	// +optional
	RestartRuntimeAt *metav1.Time `json:"restartRuntimeAt,omitempty"`
	// RestartBrowserAt restarts the browser.
	// +optional
	RestartBrowserAt *metav1.Time `json:"restartBrowserAt,omitempty"`
	// RestartCanvasAt restarts the canvas.
	// +optional
	RestartCanvasAt *metav1.Time `json:"restartCanvasAt,omitempty"`
	// RestartTerminalAt restarts the terminal.
	// +optional
	RestartTerminalAt *metav1.Time `json:"restartTerminalAt,omitempty"`
	// RestartWorkspaceAt restarts every component.
	// +optional
	RestartWorkspaceAt *metav1.Time `json:"restartWorkspaceAt,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=aileron
// +kubebuilder:printcolumn:name="Workspace ID",type=string,JSONPath=`.spec.workspaceId`
// +kubebuilder:printcolumn:name="Owner",type=string,JSONPath=`.spec.owner`
// +kubebuilder:printcolumn:name="Desired",type=string,JSONPath=`.spec.desiredState`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Workspace is one Aileron workspace: its services, storage and firewall.
type Workspace struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state.
	// +required
	Spec WorkspaceSpec `json:"spec"`
	// Status is the observed state, written by the operator.
	// +optional
	Status WorkspaceStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// WorkspaceList is a list of Workspaces.
type WorkspaceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the Workspaces.
	Items []Workspace `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Workspace{}, &WorkspaceList{})
}
