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

// role is what an object that is not a service container is: the value of
// LabelRole. It is a type of its own so that a role and a workspace.Service
// never stand in for each other.
type role string

// Values of LabelRole. Versions before LabelRole wrote these values under
// LabelService; roleOf still reads them there.
const (
	roleGateway   role = "egress-gateway"
	roleData      role = "data"
	roleGatewayFS role = "egress-config"
	roleNetWS     role = "network-workspace"
	roleNetBR     role = "network-browser"
	roleOutside   role = "network-outside"
)

// ContainerName returns the container name of a service of workspace id.
func ContainerName(service workspace.Service, id string) string {
	if service == workspace.ServiceBrowser {
		return "workspace-chrome-" + id
	}
	return "workspace-" + string(service) + "-" + id
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
func groupOf(service workspace.Service) policy.Group {
	if service == workspace.ServiceBrowser {
		return policy.GroupBrowser
	}
	return policy.GroupWorkspace
}

// gatewayOffset is the gateway's last octet offset on an internal network:
// .1 is the bridge, .2 the gateway, then the services (serviceOffset).
const gatewayOffset = 2

// serviceOffset is the last octet offset of each service on its group's
// internal network; the browser is alone on its network.
var serviceOffset = map[workspace.Service]int{
	workspace.ServiceRuntime:  3,
	workspace.ServiceTerminal: 4,
	workspace.ServiceCanvas:   5,
	workspace.ServiceBrowser:  3,
}

// hostName is the name a service is reachable by from its siblings.
func hostName(service workspace.Service) string {
	if service == workspace.ServiceBrowser {
		return "chrome"
	}
	return string(service)
}

// serviceLabels returns the ownership labels of a service container of
// workspace id: LabelService names the service.
func (p *Provisioner) serviceLabels(id string, service workspace.Service) map[string]string {
	l := p.ownLabels(id)
	l[LabelService] = string(service)
	return l
}

// roleLabels returns the ownership labels of every other object: LabelRole
// names what it is.
func (p *Provisioner) roleLabels(id string, r role) map[string]string {
	l := p.ownLabels(id)
	l[LabelRole] = string(r)
	return l
}

// ownLabels marks an object as this instance's, of workspace id when set.
func (p *Provisioner) ownLabels(id string) map[string]string {
	l := map[string]string{
		LabelManagedBy: ManagedBy,
		LabelInstance:  p.cfg.Instance,
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
var legacyRoles = []role{roleGateway, roleData, roleGatewayFS, roleNetWS, roleNetBR, roleOutside}

// roleOf returns the role of an object from its labels ("" for a service
// container), reading LabelService too for objects an older version created.
func roleOf(l map[string]string) role {
	if r := role(l[LabelRole]); r != "" {
		return r
	}
	if r := role(l[LabelService]); slices.Contains(legacyRoles, r) {
		return r
	}
	return ""
}
