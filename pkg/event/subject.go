// Package event names the NATS subjects of Aileron events, publishes protobuf
// payloads with deduplication ids and runs durable consumers with explicit
// acknowledgement. docs/events.md documents the same subjects for outsiders.
package event

import (
	"fmt"
	"strings"

	"aileron.dev/pkg/workspace"
)

// Workspace event types (the last token of a workspace event subject).
const (
	TypeCreated                 = "created"
	TypeStopRequested           = "stop_requested"
	TypeStartRequested          = "start_requested"
	TypeRestartRequested        = "restart_requested"
	TypeServiceRestartRequested = "service_restart_requested"
	TypeFirewallUpdated         = "firewall_updated"
	TypeDeleteRequested         = "delete_requested"
	TypeStateChanged            = "state_changed"
	TypeDeleted                 = "deleted"
)

// WorkspaceSubject is aileron.workspace.<provisioner>.<workspace_id>.<type>.
func WorkspaceSubject(provisioner workspace.Provisioner, id, typ string) string {
	return fmt.Sprintf("aileron.workspace.%s.%s.%s", provisioner, id, typ)
}

// WorkspaceFilter matches every workspace event of one provisioner.
func WorkspaceFilter(provisioner workspace.Provisioner) string {
	return "aileron.workspace." + string(provisioner) + ".>"
}

// AllWorkspacesFilter matches every workspace event of every provisioner.
const AllWorkspacesFilter = "aileron.workspace.*.>"

// WorkspaceIDFilter matches every event of one workspace:
// aileron.workspace.<provisioner>.<workspace_id>.*.
func WorkspaceIDFilter(provisioner workspace.Provisioner, id string) string {
	return "aileron.workspace." + string(provisioner) + "." + id + ".*"
}

// ParseWorkspaceSubject splits a workspace event subject.
func ParseWorkspaceSubject(subject string) (provisioner workspace.Provisioner, id, typ string, ok bool) {
	p := strings.Split(subject, ".")
	if len(p) != 5 || p[0] != "aileron" || p[1] != "workspace" {
		return "", "", "", false
	}
	return workspace.Provisioner(p[2]), p[3], p[4], true
}

// StatusSubject is aileron.status.<workspace_id>.provisioner, where provisioners
// report what they observed.
func StatusSubject(id string) string { return "aileron.status." + id + ".provisioner" }

// FirewallStatusSubject is aileron.status.<workspace_id>.firewall.
func FirewallStatusSubject(id string) string { return "aileron.status." + id + ".firewall" }

// StatusFilter matches every status report.
const StatusFilter = "aileron.status.>"

// FirewallPolicySubject is aileron.firewall.<provisioner>.<workspace_id>.policy, where
// the firewall service announces a new effective policy.
func FirewallPolicySubject(provisioner workspace.Provisioner, id string) string {
	return fmt.Sprintf("aileron.firewall.%s.%s.policy", provisioner, id)
}

// FirewallPolicyFilter matches every policy announcement of one provisioner.
func FirewallPolicyFilter(provisioner workspace.Provisioner) string {
	return "aileron.firewall." + string(provisioner) + ".>"
}

// WorkspaceIDFromSubject returns the workspace id of any aileron.workspace,
// aileron.status or aileron.firewall subject.
func WorkspaceIDFromSubject(subject string) (string, bool) {
	p := strings.Split(subject, ".")
	switch {
	case len(p) == 5 && p[0] == "aileron" && (p[1] == "workspace" || p[1] == "firewall"):
		return p[3], true
	case len(p) == 4 && p[0] == "aileron" && p[1] == "status":
		return p[2], true
	}
	return "", false
}

// AuditSubject is aileron.audit.<result>.<method>, where the API records
// every mutating call and every refused one (result: allowed, refused or failed).
func AuditSubject(result, method string) string { return "aileron.audit." + result + "." + method }

// AuditFilter matches every audit event.
const AuditFilter = "aileron.audit.>"

// SpanSubject is subject without its workspace id, the stable part that
// names a publish or consume span: aileron.workspace.docker.created,
// aileron.status.provisioner.
func SpanSubject(subject string) string {
	id, ok := WorkspaceIDFromSubject(subject)
	if !ok {
		return subject
	}
	return strings.Replace(subject, "."+id+".", ".", 1)
}
