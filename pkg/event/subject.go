// Package event names the NATS subjects of Aileron events, publishes protobuf
// payloads with deduplication ids and runs durable consumers with explicit
// acknowledgement. docs/events.md documents the same subjects for outsiders.
package event

import (
	"fmt"
	"strings"
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
func WorkspaceSubject(provisioner, id, typ string) string {
	return fmt.Sprintf("aileron.workspace.%s.%s.%s", provisioner, id, typ)
}

// WorkspaceFilter matches every workspace event of one provisioner ("*" for all).
func WorkspaceFilter(provisioner string) string {
	return "aileron.workspace." + provisioner + ".>"
}

// ParseWorkspaceSubject splits a workspace event subject.
func ParseWorkspaceSubject(subject string) (provisioner, id, typ string, ok bool) {
	p := strings.Split(subject, ".")
	if len(p) != 5 || p[0] != "aileron" || p[1] != "workspace" {
		return "", "", "", false
	}
	return p[2], p[3], p[4], true
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
func FirewallPolicySubject(provisioner, id string) string {
	return fmt.Sprintf("aileron.firewall.%s.%s.policy", provisioner, id)
}

// FirewallPolicyFilter matches every policy announcement of one provisioner.
func FirewallPolicyFilter(provisioner string) string {
	return "aileron.firewall." + provisioner + ".>"
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
