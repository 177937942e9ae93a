package v1alpha1

// Labels and annotations the operator puts on every object it creates for a
// Workspace. They are part of the API: the provisioner's orphan sweep and
// operators' kubectl queries select by them.
const (
	// LabelPartOf marks every child object as Aileron's.
	LabelPartOf = "app.kubernetes.io/part-of"
	// PartOf is the value of LabelPartOf.
	PartOf = "aileron"
	// LabelManagedBy names the operator that writes the object.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is the value of LabelManagedBy.
	ManagedBy = "aileron-workspace-operator"
	// LabelWorkspaceID carries spec.workspaceId of the owning Workspace.
	LabelWorkspaceID = "aileron.io/workspace-id"
	// LabelComponent names the component: runtime, terminal, browser, canvas,
	// storage or firewall.
	LabelComponent = "aileron.io/component"
	// LabelFirewallGroup names the firewall group (workspace or browser) of a
	// pod or of a policy; policies select pods by it.
	LabelFirewallGroup = "aileron.io/firewall-group"
)
