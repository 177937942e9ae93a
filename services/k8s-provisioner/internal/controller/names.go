package controller

import (
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"aileron.dev/pkg/workspace"
	"aileron.dev/services/firewall/policy"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// component is one service of a workspace.
type component string

const (
	runtimeC  component = "runtime"
	terminalC component = "terminal"
	browserC  component = "browser"
	canvasC   component = "canvas"
)

// components lists every component in status order.
var components = []component{runtimeC, terminalC, browserC, canvasC}

// podKind is one Deployment of a workspace: the runtime pod carries the
// runtime and terminal containers, browser and canvas have pods of their own.
type podKind = component

// podKinds lists every Deployment a workspace can have.
var podKinds = []podKind{runtimeC, browserC, canvasC}

// Restart annotations on pod templates. Changing one rolls the pods.
const (
	annotationRestartPrefix = "aileron.io/restart-"
	annotationRestartSuffix = "-at"
	restartWorkspace        = "workspace"
	// annotationDesiredHash records the hash of the desired object the
	// operator last wrote, so removed fields are noticed too.
	annotationDesiredHash = "aileron.io/desired-hash"
)

func restartAnnotation(what string) string {
	return annotationRestartPrefix + what + annotationRestartSuffix
}

// prefix starts every child name: Service names must start with a letter and
// workspace ids may not.
func prefix(ws *v1alpha1.Workspace) string { return "ws-" + ws.Spec.WorkspaceID }

func deploymentName(ws *v1alpha1.Workspace, k podKind) string { return prefix(ws) + "-" + string(k) }

func serviceName(ws *v1alpha1.Workspace, c component) string { return prefix(ws) + "-" + string(c) }

func claimName(ws *v1alpha1.Workspace) string { return prefix(ws) + "-data" }

func policyName(ws *v1alpha1.Workspace, g policy.Group) string {
	return prefix(ws) + "-firewall-" + string(g)
}

// podOf returns the Deployment that runs component c.
func podOf(c component) podKind {
	if c == terminalC {
		return runtimeC
	}
	return c
}

// groupOf returns the firewall group of a pod.
func groupOf(k podKind) policy.Group {
	if k == browserC {
		return policy.GroupBrowser
	}
	return policy.GroupWorkspace
}

func serviceSpec(ws *v1alpha1.Workspace, c component) v1alpha1.ServiceSpec {
	switch c {
	case runtimeC:
		return ws.Spec.Services.Runtime
	case terminalC:
		return ws.Spec.Services.Terminal
	case browserC:
		return ws.Spec.Services.Browser
	default:
		return ws.Spec.Services.Canvas
	}
}

// podEnabled reports whether the Deployment k has at least one container.
func podEnabled(ws *v1alpha1.Workspace, k podKind) bool {
	if k == runtimeC {
		return ws.Spec.Services.Runtime.Enabled || ws.Spec.Services.Terminal.Enabled
	}
	return serviceSpec(ws, k).Enabled
}

func (c Config) port(comp component) int32 {
	return int32(c.Services.Get(workspace.Service(comp)).Port) // Validate keeps it within 1-65535
}

// url is the in-cluster address of a component's Service.
func (c Config) url(ws *v1alpha1.Workspace, comp component) string {
	return fmt.Sprintf("http://%s.%s.svc:%d", serviceName(ws, comp), ws.Namespace, c.port(comp))
}

// labels are the ownership labels of a child object of ws.
func labels(ws *v1alpha1.Workspace, comp string) map[string]string {
	return map[string]string{
		v1alpha1.LabelPartOf:      v1alpha1.PartOf,
		v1alpha1.LabelManagedBy:   v1alpha1.ManagedBy,
		v1alpha1.LabelWorkspaceID: ws.Spec.WorkspaceID,
		v1alpha1.LabelComponent:   comp,
	}
}

// selector selects the pods of Deployment k; it is immutable once created.
func selector(ws *v1alpha1.Workspace, k podKind) map[string]string {
	return map[string]string{
		v1alpha1.LabelWorkspaceID: ws.Spec.WorkspaceID,
		v1alpha1.LabelComponent:   string(k),
	}
}

// key is the namespaced name of a child of ws.
func key(ws *v1alpha1.Workspace, name string) client.ObjectKey {
	return client.ObjectKey{Namespace: ws.Namespace, Name: name}
}
