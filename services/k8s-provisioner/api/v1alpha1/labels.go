package v1alpha1

import (
	"strconv"
	"strings"
)

// Labels and annotations Aileron puts on a Workspace and on every object the
// operator creates for one. They are part of the API: the provisioner's
// orphan sweep and operators' kubectl queries select by them.
//
// Every Aileron key starts with Prefix, aileron.io/ after the API group
// platform.aileron.io. Before, the provisioner's annotations on a Workspace
// started with LegacyPrefix (aileron.dev/); the provisioner still reads those
// on resources an older version wrote, writes only the new keys, and its next
// server-side apply removes the old ones, which it owned.
const (
	// Prefix starts every Aileron label and annotation key.
	Prefix = "aileron.io/"
	// LegacyPrefix started the provisioner's annotations on a Workspace
	// before they moved to Prefix; read only, never written.
	LegacyPrefix = "aileron.dev/"

	// LabelPartOf marks every child object as Aileron's.
	LabelPartOf = "app.kubernetes.io/part-of"
	// PartOf is the value of LabelPartOf.
	PartOf = "aileron"
	// LabelManagedBy names the operator that writes the object.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedBy is the value of LabelManagedBy.
	ManagedBy = "aileron-workspace-operator"
	// LabelWorkspaceID carries spec.workspaceId of the owning Workspace.
	LabelWorkspaceID = Prefix + "workspace-id"
	// LabelComponent names the component: runtime, terminal, browser, canvas,
	// storage or firewall.
	LabelComponent = Prefix + "component"
	// LabelFirewallGroup names the firewall group (workspace or browser) of a
	// pod or of a policy; policies select pods by it.
	LabelFirewallGroup = Prefix + "firewall-group"

	// AnnotationGeneration, on a Workspace, is the orchestrator's generation
	// of the record the spec was applied from; reports carry it back.
	AnnotationGeneration = Prefix + "generation"
	// AnnotationFirewallRevision, on a Workspace, is the firewall revision
	// the spec carries; firewall reports carry it back.
	AnnotationFirewallRevision = Prefix + "firewall-revision"
	// AnnotationName, on a Workspace, is the workspace's display name, for
	// people reading kubectl output.
	AnnotationName = Prefix + "name"
	// AnnotationTraceparent, on a Workspace, is the W3C traceparent of the
	// event that brought the generation in AnnotationGeneration, written
	// only when the provisioner traces: the operator and the status reports
	// continue that trace until the generation converges.
	AnnotationTraceparent = Prefix + "traceparent"
)

// Annotation returns the value of annotation key (one of the Annotation*
// constants) in annotations, or of its LegacyPrefix spelling when only an
// older provisioner's key is there.
func Annotation(annotations map[string]string, key string) (string, bool) {
	if v, ok := annotations[key]; ok {
		return v, true
	}
	name, ok := strings.CutPrefix(key, Prefix)
	if !ok {
		return "", false
	}
	v, ok := annotations[LegacyPrefix+name]
	return v, ok
}

// LifecycleGeneration is the orchestrator's generation the spec of ws was
// applied from (AnnotationGeneration); false on a Workspace Aileron did not
// write.
func (ws *Workspace) LifecycleGeneration() (int64, bool) {
	v, ok := Annotation(ws.Annotations, AnnotationGeneration)
	if !ok {
		return 0, false
	}
	gen, err := strconv.ParseInt(v, 10, 64)
	return gen, err == nil
}
