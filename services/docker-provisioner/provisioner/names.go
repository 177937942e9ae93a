package provisioner

import (
	"github.com/docker/docker/api/types/filters"

	"aileron.dev/pkg/workspace"
)

// Labels on every object the provisioner creates.
const (
	LabelWorkspaceID = "aileron.dev/workspace-id"
	LabelService     = "aileron.dev/service"
	LabelManagedBy   = "aileron.dev/managed-by"
	LabelInstance    = "aileron.dev/instance"
	// LabelSpecHash is the hash of a container's desired spec: a container
	// whose hash differs from the desired one is replaced.
	LabelSpecHash = "aileron.dev/spec-hash"
	// LabelRestartedAt is the restart request (RFC 3339) the container was
	// created for; a newer request replaces the container exactly once.
	LabelRestartedAt = "aileron.dev/restarted-at"
	// ManagedBy is the value of LabelManagedBy.
	ManagedBy = "aileron-docker-provisioner"
)

// Values of LabelService for objects that are not a workspace service.
const (
	roleGateway   = "egress-gateway"
	roleData      = "data"
	roleGatewayFS = "egress-config"
	roleNetWS     = "network-workspace"
	roleNetBR     = "network-browser"
	roleOutside   = "network-outside"
)

// Network groups: the workspace group (runtime, terminal, canvas) and the
// browser group (chrome), each on its own internal network.
const (
	groupWorkspace = "workspace"
	groupBrowser   = "browser"
)

// ContainerName returns the container name of a service of workspace id.
func ContainerName(service, id string) string {
	if service == string(workspace.ServiceBrowser) {
		return "workspace-chrome-" + id
	}
	return "workspace-" + service + "-" + id
}

// GatewayName returns the egress gateway container name of workspace id.
func GatewayName(id string) string { return "workspace-egress-" + id }

// VolumeName returns the data volume of workspace id, mounted at /workspace.
func VolumeName(id string) string { return "workspace-data-" + id }

// gatewayVolumeName holds the gateway's policy file.
func gatewayVolumeName(id string) string { return "workspace-egress-" + id }

// NetworkName returns the internal network of a group of workspace id.
func NetworkName(group, id string) string {
	if group == groupBrowser {
		return "aileron-br-" + id
	}
	return "aileron-ws-" + id
}

// groupOf returns the network group of a service.
func groupOf(service string) string {
	if service == string(workspace.ServiceBrowser) {
		return groupBrowser
	}
	return groupWorkspace
}

// hostOffset is the last octet offset of each container on its internal
// network: .1 is the bridge, .2 the gateway, then the services.
var hostOffset = map[string]int{
	roleGateway:                       2,
	string(workspace.ServiceRuntime):  3,
	string(workspace.ServiceTerminal): 4,
	string(workspace.ServiceCanvas):   5,
	string(workspace.ServiceBrowser):  3,
}

// hostName is the name a service is reachable by from its siblings.
func hostName(service string) string {
	if service == string(workspace.ServiceBrowser) {
		return "chrome"
	}
	return service
}

// labels returns the ownership labels of an object.
func (p *Provisioner) labels(id, role string) map[string]string {
	l := map[string]string{
		LabelManagedBy: ManagedBy,
		LabelInstance:  p.cfg.Instance,
		LabelService:   role,
	}
	if id != "" {
		l[LabelWorkspaceID] = id
	}
	return l
}

// ownedFilter matches objects of this instance, of one workspace when id is set.
func (p *Provisioner) ownedFilter(id string) filters.Args {
	f := filters.NewArgs(
		filters.Arg("label", LabelManagedBy+"="+ManagedBy),
		filters.Arg("label", LabelInstance+"="+p.cfg.Instance),
	)
	if id != "" {
		f.Add("label", LabelWorkspaceID+"="+id)
	}
	return f
}

// owned reports whether labels mark an object of this instance and workspace.
func (p *Provisioner) owned(l map[string]string, id string) bool {
	return l[LabelManagedBy] == ManagedBy && l[LabelInstance] == p.cfg.Instance && l[LabelWorkspaceID] == id
}
