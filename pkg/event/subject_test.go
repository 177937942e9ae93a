package event_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/event"
	"aileron.dev/pkg/workspace"
)

// TestSpanSubject drops the workspace id, and only it, from a subject.
func TestSpanSubject(t *testing.T) {
	for _, tc := range []struct{ subject, want string }{
		{event.WorkspaceSubject(workspace.ProvisionerDocker, "abc123", event.TypeCreated), "aileron.workspace.docker.created"},
		{event.StatusSubject("abc123"), "aileron.status.provisioner"},
		{event.FirewallStatusSubject("abc123"), "aileron.status.firewall"},
		{event.FirewallPolicySubject(workspace.ProvisionerKubernetes, "abc123"), "aileron.firewall.kubernetes.policy"},
		{event.AuditSubject("allowed", "CreateWorkspace"), "aileron.audit.allowed.CreateWorkspace"},
		{"something.else", "something.else"},
	} {
		t.Run(tc.subject, func(t *testing.T) {
			require.Equal(t, tc.want, event.SpanSubject(tc.subject))
		})
	}
}
