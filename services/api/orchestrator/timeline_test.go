package orchestrator

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	storev1 "aileron.dev/gen/aileron/store/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/workspace"
)

func step(name, target string, start time.Time, d time.Duration) *workspacev1.TimelineStep {
	return &workspacev1.TimelineStep{Name: name, Target: target, StartTime: timestamppb.New(start), Duration: durationpb.New(d), Reporter: "test"}
}

// move changes the record's state the way mutateRecord does.
func move(rec *storev1.WorkspaceRecord, to workspace.State, at time.Time) {
	from := workspace.State(rec.Workspace.State)
	rec.Workspace.State = string(to)
	if to.Transitional() {
		rec.Workspace.Generation++
	}
	followTimeline(rec, from, at)
}

func names(t *workspacev1.Transition) []string {
	var out []string
	for _, s := range t.Steps {
		out = append(out, s.Name+"/"+s.Target)
	}
	return out
}

func TestTimelineSteps(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)
	rec := &storev1.WorkspaceRecord{Workspace: &workspacev1.Workspace{State: string(workspace.StateCreating), Generation: 1}}
	openTransition(rec, workspace.StateCreating, 1, t0)

	// Reports are cumulative and out of order; each step joins once.
	require.True(t, addSteps(rec, 1, []*workspacev1.TimelineStep{
		step("networks_ready", "", t0.Add(150*time.Millisecond), 50*time.Millisecond),
		step("volume_ready", "", t0.Add(100*time.Millisecond), 50*time.Millisecond),
	}))
	require.True(t, addSteps(rec, 1, []*workspacev1.TimelineStep{
		step("volume_ready", "", t0.Add(time.Hour), time.Second), // a repeat keeps the first
		step("container_started", "runtime", t0.Add(200*time.Millisecond), 300*time.Millisecond),
	}))
	require.False(t, addSteps(rec, 1, []*workspacev1.TimelineStep{step("volume_ready", "", t0, 0)}), "nothing new")
	require.False(t, addSteps(rec, 0, []*workspacev1.TimelineStep{step("stale", "", t0, 0)}), "an older generation")
	require.False(t, addSteps(rec, 1, []*workspacev1.TimelineStep{{Name: "no_start"}, step("negative", "", t0, -time.Second)}), "invalid steps")

	move(rec, workspace.StateRunning, t0.Add(600*time.Millisecond))
	tr := rec.Transitions[0]
	require.Equal(t, []string{"requested/", "volume_ready/", "networks_ready/", "container_started/runtime", "running/"}, names(tr))
	require.Equal(t, 100*time.Millisecond, tr.Steps[0].Duration.AsDuration(), "requested lasts until the first step")
	require.Equal(t, t0.Add(500*time.Millisecond), tr.Steps[4].StartTime.AsTime(), "running starts where the last step ended")
	require.Equal(t, 100*time.Millisecond, tr.Steps[4].Duration.AsDuration())
	require.Equal(t, "running", tr.Result)
	require.Equal(t, t0.Add(600*time.Millisecond), tr.EndTime.AsTime())
	require.False(t, addSteps(rec, 1, []*workspacev1.TimelineStep{step("late", "", t0, 0)}), "a closed transition takes no steps")

	// A command that cuts a transition short ends it with the new state.
	move(rec, workspace.StateStopping, t0.Add(time.Second))
	move(rec, workspace.StateDeleting, t0.Add(2*time.Second))
	require.Equal(t, "deleting", rec.Transitions[1].Result)
	require.Equal(t, []string{"requested/"}, names(rec.Transitions[1]))
	require.Empty(t, rec.Transitions[2].Result)
}

func TestTimelineBounded(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC)
	rec := &storev1.WorkspaceRecord{Workspace: &workspacev1.Workspace{State: string(workspace.StateStopped), Generation: 1}}
	for i := range 10 {
		at := t0.Add(time.Duration(i) * time.Minute)
		move(rec, workspace.StateStarting, at)
		var many []*workspacev1.TimelineStep
		for j := range 200 {
			many = append(many, step("container_started", fmt.Sprint(j), at.Add(time.Duration(j)*time.Millisecond), time.Millisecond))
		}
		addSteps(rec, rec.Workspace.Generation, many)
		move(rec, workspace.StateRunning, at.Add(time.Second))
		move(rec, workspace.StateStopping, at.Add(2*time.Second))
		move(rec, workspace.StateStopped, at.Add(3*time.Second))
	}
	require.Len(t, rec.Transitions, workspace.MaxTransitions)
	for _, tr := range rec.Transitions {
		require.LessOrEqual(t, len(tr.Steps), workspace.MaxTransitionSteps)
		require.NotEmpty(t, tr.Result, "every transition is closed")
	}
	starting := rec.Transitions[1]
	require.Len(t, starting.Steps, workspace.MaxTransitionSteps)
	require.Equal(t, "running", starting.Steps[len(starting.Steps)-1].Name, "the closing step always fits")
	require.Equal(t, t0.Add(9*time.Minute), rec.Transitions[2].StartTime.AsTime().Add(-2*time.Second), "the newest are kept")
}
