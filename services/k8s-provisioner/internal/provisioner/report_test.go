package provisioner

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "aileron.dev/services/k8s-provisioner/api/v1alpha1"
)

// TestReportsReadLegacyAnnotations: a Workspace an older provisioner wrote
// carries aileron.dev/ annotations; it is reported until the next apply
// moves them to aileron.io/.
func TestReportsReadLegacyAnnotations(t *testing.T) {
	observed := func(annotations map[string]string) *v1alpha1.Workspace {
		ws := &v1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "w1", Generation: 2, Annotations: annotations}}
		ws.Status.ObservedGeneration = 2
		ws.Status.Phase = v1alpha1.PhaseRunning
		ws.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionFirewallApplied, Status: metav1.ConditionTrue, ObservedGeneration: 2}}
		return ws
	}
	tests := []struct {
		name        string
		annotations map[string]string
		gen         int64
		rev         uint64
	}{
		{"current", map[string]string{"aileron.io/generation": "5", "aileron.io/firewall-revision": "3"}, 5, 3},
		{"legacy", map[string]string{"aileron.dev/generation": "4", "aileron.dev/firewall-revision": "2"}, 4, 2},
		{"current wins", map[string]string{"aileron.io/generation": "5", "aileron.dev/generation": "4", "aileron.io/firewall-revision": "3", "aileron.dev/firewall-revision": "2"}, 5, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ws := observed(tt.annotations)
			s := statusReport(ws)
			require.NotNil(t, s)
			require.Equal(t, tt.gen, s.ObservedGeneration)
			require.Equal(t, "running", s.Phase)
			f := firewallReport(ws)
			require.NotNil(t, f)
			require.Equal(t, tt.rev, f.Revision)
			require.Equal(t, "applied", f.Phase)
		})
	}
	require.Nil(t, statusReport(observed(nil)), "no generation annotation, no report")
}
