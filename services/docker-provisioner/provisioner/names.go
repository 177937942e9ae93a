package provisioner

import (
	"slices"

	"github.com/docker/docker/api/types/filters"

	"aileron.dev/pkg/workspace"
	"aileron.dev/services/firewall/policy"
)

// Labels on every object the provisioner creates.
const (
	LabelWorkspaceID = "aileron.dev/workspace-id"
	// LabelService names the workspace service a container runs (runtime,
	// terminal, browser, canvas); only service containers carry it.
	LabelService = "aileron.dev/service"
	// LabelRole names what an object that is not a service container is
	// (the role* values: the egress gateway, a volume, a network).
	LabelRole      = "aileron.dev/role"
	LabelManagedBy = "aileron.dev/managed-by"
	LabelInstance  = "aileron.dev/instance"
	// LabelSpecHash is the hash of a container's desired spec: a container
	// whose hash differs from the desired one is replaced.
	LabelSpecHash = "aileron.dev/spec-hash"
	// LabelRestartedAt is the restart request (RFC 3339) the container was
	// created for; a newer request replaces the container exactly once.
	LabelRestartedAt = "aileron.dev/restarted-at"
	// ManagedBy is the value of LabelManagedBy.
	ManagedBy = "aileron-docker-provisioner"
)

// Values of LabelRole. Versions before LabelRole wrote these values under
// LabelService; roleOf still reads them there.
const (
	roleGateway   = "egress-gateway"
	roleData      = "data"
	roleGatewayFS = "egress-config"
	roleNetWS     = "network-workspace"
	roleNetBR     = "network-browser"
	roleOutside   = "network-outside"
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
func NetworkName(group policy.Group, id string) string {
	if group == policy.GroupBrowser {
		return "aileron-br-" + id
	}
	return "aileron-ws-" + id
}

// groupOf returns the network group of a service: the browser has its own,
// the others share the workspace group.
func groupOf(service string) policy.Group {
	if service == string(workspace.ServiceBrowser) {
		return policy.GroupBrowser
	}
	return policy.GroupWorkspace
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

// labels returns the ownership labels of an object: a service container
// (what is a service name) gets LabelService, every other object LabelRole.
func (p *Provisioner) labels(id, what string) map[string]string {
	l := map[string]string{
		LabelManagedBy: ManagedBy,
		LabelInstance:  p.cfg.Instance,
	}
	if isService(what) {
		l[LabelService] = what
	} else {
		l[LabelRole] = what
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

// legacyRoles are the role values older versions wrote under LabelService.
var legacyRoles = []string{roleGateway, roleData, roleGatewayFS, roleNetWS, roleNetBR, roleOutside}

// roleOf returns the role of an object from its labels ("" for a service
// container), reading LabelService too for objects an older version created.
func roleOf(l map[string]string) string {
	if r := l[LabelRole]; r != "" {
		return r
	}
	if r := l[LabelService]; slices.Contains(legacyRoles, r) {
		return r
	}
	return ""
}
