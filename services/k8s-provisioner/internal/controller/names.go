package controller

import (
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"aileron.dev/pkg/workspace"
	"aileron.dev/services/firewall/policy"
	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// A component of a workspace is one of its services (workspace.Service) or
// one of the objects they share; v1alpha1.LabelComponent carries its name.
// A Deployment is named after the service whose pod it runs: the runtime's
// pod carries the runtime and terminal containers, browser and canvas have
// pods of their own.

// pods lists every Deployment a workspace can have, by the service it is
// named after.
var pods = []workspace.Service{workspace.ServiceRuntime, workspace.ServiceBrowser, workspace.ServiceCanvas}

// Components that are not services.
const (
	// componentStorage is the workspace volume claim.
	componentStorage = "storage"
	// componentFirewall is the firewall policies.
	componentFirewall = "firewall"
)

// Restart annotations on pod templates. Changing one rolls the pods.
const (
	annotationRestartPrefix = v1alpha1.Prefix + "restart-"
	annotationRestartSuffix = "-at"
	restartWorkspace        = "workspace"
	// annotationDesiredHash records the hash of the desired object the
	// operator last wrote, so removed fields are noticed too.
	annotationDesiredHash = v1alpha1.Prefix + "desired-hash"
)

func restartAnnotation(what string) string {
	return annotationRestartPrefix + what + annotationRestartSuffix
}

// prefix starts every child name: Service names must start with a letter and
// workspace ids may not.
func prefix(ws *v1alpha1.Workspace) string { return "ws-" + ws.Spec.WorkspaceID }

func deploymentName(ws *v1alpha1.Workspace, k workspace.Service) string {
	return prefix(ws) + "-" + string(k)
}

func serviceName(ws *v1alpha1.Workspace, c workspace.Service) string {
	return prefix(ws) + "-" + string(c)
}

func claimName(ws *v1alpha1.Workspace) string { return prefix(ws) + "-data" }

func policyName(ws *v1alpha1.Workspace, g policy.Group) string {
	return prefix(ws) + "-firewall-" + string(g)
}

// podOf returns the Deployment that runs service c.
func podOf(c workspace.Service) workspace.Service {
	if c == workspace.ServiceTerminal {
		return workspace.ServiceRuntime
	}
	return c
}

// groupOf returns the firewall group of a pod.
func groupOf(k workspace.Service) policy.Group {
	if k == workspace.ServiceBrowser {
		return policy.GroupBrowser
	}
	return policy.GroupWorkspace
}

// podEnabled reports whether the Deployment of k has at least one container.
func podEnabled(ws *v1alpha1.Workspace, k workspace.Service) bool {
	if k == workspace.ServiceRuntime {
		return ws.Spec.Services.Runtime.Enabled || ws.Spec.Services.Terminal.Enabled
	}
	return ws.Spec.Services.Get(k).Enabled
}

func (c Config) port(s workspace.Service) int32 {
	return int32(c.Services.Get(s).Port) // Validate keeps it within 1-65535
}

// url is the in-cluster address of a component's Service.
func (c Config) url(ws *v1alpha1.Workspace, comp workspace.Service) string {
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
func selector(ws *v1alpha1.Workspace, k workspace.Service) map[string]string {
	return map[string]string{
		v1alpha1.LabelWorkspaceID: ws.Spec.WorkspaceID,
		v1alpha1.LabelComponent:   string(k),
	}
}

// key is the namespaced name of a child of ws.
func key(ws *v1alpha1.Workspace, name string) client.ObjectKey {
	return client.ObjectKey{Namespace: ws.Namespace, Name: name}
}
