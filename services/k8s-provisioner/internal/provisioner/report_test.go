package provisioner

import (
	"testing"
	"time"

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

// TestReportCarriesTheOperatorsEndedSteps: a status report carries the steps
// the operator ended for the reported lifecycle generation, as the
// operator's, and none of an older generation's.
func TestReportCarriesTheOperatorsEndedSteps(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) metav1.MicroTime { return metav1.NewMicroTime(t0.Add(d)) }
	end := at(1500 * time.Millisecond)
	ws := &v1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: "w1", Generation: 3, Annotations: map[string]string{"aileron.io/generation": "7"}}}
	ws.Status.ObservedGeneration = 3
	ws.Status.Timeline = &v1alpha1.Timeline{Generation: 7, Steps: []v1alpha1.TimelineStep{
		{Name: "deployment_applied", Target: "runtime", StartTime: at(0), EndTime: &end},
		{Name: "health_check_passed", Target: "runtime", StartTime: at(1500 * time.Millisecond)},
	}}
	steps := statusReport(ws).Steps
	require.Len(t, steps, 1, "a step under way is not reported")
	require.Equal(t, "deployment_applied", steps[0].Name)
	require.Equal(t, "runtime", steps[0].Target)
	require.Equal(t, t0, steps[0].StartTime.AsTime())
	require.Equal(t, 1500*time.Millisecond, steps[0].Duration.AsDuration())
	require.Equal(t, OperatorReporter, steps[0].Reporter)

	ws.Status.Timeline.Generation = 6
	require.Empty(t, statusReport(ws).Steps, "steps of another generation")
}
