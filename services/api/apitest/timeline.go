package apitest

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
)

// Checks of a workspace's timeline, shared by the provisioners' tests.

// Timeline returns the transitions of workspace id, oldest first.
func (e *Env) Timeline(t require.TestingT, id string) []*workspacev1.Transition {
	resp, err := e.Client.GetWorkspaceTimeline(context.Background(), &workspacev1.GetWorkspaceTimelineRequest{Id: id})
	require.NoError(t, err)
	require.Equal(t, id, resp.Id)
	return resp.Transitions
}

// WaitWrite reads watch until the write that put workspace id in state,
// and returns the workspace as that write left it: its update_time is when
// the orchestrator recorded the state.
func WaitWrite(t require.TestingT, watch workspacev1.WorkspaceService_WatchWorkspacesClient, id, state string) *workspacev1.Workspace {
	for {
		c, err := watch.Recv()
		require.NoError(t, err)
		if ws := c.GetWorkspace(); ws.GetId() == id && ws.State == state {
			return ws
		}
	}
}

// RequireOrdered checks every step has a start and a duration, in order of
// start, within the transition.
func RequireOrdered(t require.TestingT, tr *workspacev1.Transition) {
	for i, s := range tr.Steps {
		require.NotNil(t, s.StartTime, "step %d %s", i, s.Name)
		require.NotNil(t, s.Duration, "step %d %s", i, s.Name)
		require.GreaterOrEqual(t, s.Duration.AsDuration(), time.Duration(0))
		require.False(t, s.StartTime.AsTime().Before(tr.StartTime.AsTime()), "step %s starts before the transition", s.Name)
		require.False(t, s.StartTime.AsTime().Add(s.Duration.AsDuration()).After(tr.EndTime.AsTime()), "step %s ends after the transition", s.Name)
		if i > 0 {
			require.False(t, s.StartTime.AsTime().Before(tr.Steps[i-1].StartTime.AsTime()), "step %s out of order", s.Name)
		}
	}
}

// StepNames are the steps of tr as "name" or "name target".
func StepNames(tr *workspacev1.Transition) []string {
	var out []string
	for _, s := range tr.Steps {
		n := s.Name
		if s.Target != "" {
			n += " " + s.Target
		}
		out = append(out, n)
	}
	return out
}

// IndexStep is the index of the first step named s ("name" or "name
// target"), whatever its target when s has none; -1 if none.
func IndexStep(steps []string, s string) int {
	return slices.IndexFunc(steps, func(g string) bool { return g == s || strings.HasPrefix(g, s+" ") })
}

// Coverage is how much of the transition its steps cover (parallel steps
// counted once).
func Coverage(tr *workspacev1.Transition) time.Duration {
	type span struct{ from, to time.Time }
	var spans []span
	for _, s := range tr.Steps {
		spans = append(spans, span{s.StartTime.AsTime(), s.StartTime.AsTime().Add(s.Duration.AsDuration())})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
	var total time.Duration
	var cur span
	for i, s := range spans {
		switch {
		case i == 0:
			cur = s
		case s.from.After(cur.to):
			total += cur.to.Sub(cur.from)
			cur = s
		case s.to.After(cur.to):
			cur.to = s.to
		}
	}
	return total + cur.to.Sub(cur.from)
}
