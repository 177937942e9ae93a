package orchestrator

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/workspace"
)

func TestDecideEveryStateAndCommand(t *testing.T) {
	const (
		refused workspace.State = "refused"
		repeat  workspace.State = "repeat"
	)
	// want[command][state]: the next state, "" to keep it, repeat or refused.
	want := map[Command]map[workspace.State]workspace.State{
		CmdStop: {
			workspace.StateCreating: refused, workspace.StateRunning: workspace.StateStopping, workspace.StateStopping: repeat, workspace.StateStopped: repeat,
			workspace.StateStarting: refused, workspace.StateRestarting: refused, workspace.StateDeleting: refused, workspace.StateFailed: workspace.StateStopping,
		},
		CmdStart: {
			workspace.StateCreating: refused, workspace.StateRunning: repeat, workspace.StateStopping: refused, workspace.StateStopped: workspace.StateStarting,
			workspace.StateStarting: repeat, workspace.StateRestarting: refused, workspace.StateDeleting: refused, workspace.StateFailed: workspace.StateStarting,
		},
		CmdRestart: {
			workspace.StateCreating: refused, workspace.StateRunning: workspace.StateRestarting, workspace.StateStopping: refused, workspace.StateStopped: refused,
			workspace.StateStarting: refused, workspace.StateRestarting: repeat, workspace.StateDeleting: refused, workspace.StateFailed: refused,
		},
		CmdRestartService: {
			workspace.StateCreating: refused, workspace.StateRunning: "", workspace.StateStopping: refused, workspace.StateStopped: refused,
			workspace.StateStarting: refused, workspace.StateRestarting: refused, workspace.StateDeleting: refused, workspace.StateFailed: refused,
		},
		CmdDelete: {
			workspace.StateCreating: workspace.StateDeleting, workspace.StateRunning: workspace.StateDeleting, workspace.StateStopping: workspace.StateDeleting, workspace.StateStopped: workspace.StateDeleting,
			workspace.StateStarting: workspace.StateDeleting, workspace.StateRestarting: workspace.StateDeleting, workspace.StateDeleting: repeat, workspace.StateFailed: workspace.StateDeleting,
		},
		CmdUpdateFirewall: {
			workspace.StateCreating: "", workspace.StateRunning: "", workspace.StateStopping: "", workspace.StateStopped: "",
			workspace.StateStarting: "", workspace.StateRestarting: "", workspace.StateDeleting: refused, workspace.StateFailed: "",
		},
	}
	for cmd, byState := range want {
		require.Len(t, byState, len(workspace.States), "table for %s must cover every state", cmd)
		for _, state := range workspace.States {
			t.Run(fmt.Sprintf("%s/%s", cmd, state), func(t *testing.T) {
				next, rep, err := Decide(cmd, state)
				switch w := byState[state]; w {
				case refused:
					require.ErrorIs(t, err, ErrInvalidTransition)
					var de *Error
					require.True(t, errors.As(err, &de))
					require.NotEmpty(t, de.Code)
					require.Contains(t, de.Message, string(state))
				case repeat:
					require.NoError(t, err)
					require.True(t, rep, "a repeated command while in progress is a no-op")
				default:
					require.NoError(t, err)
					require.False(t, rep)
					require.Equal(t, w, next)
				}
			})
		}
	}
}

func TestDecideUnknownCommand(t *testing.T) {
	_, _, err := Decide("explode", workspace.StateRunning)
	require.ErrorIs(t, err, ErrInvalidTransition)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	c := DefaultConfig()
	delete(c.Deadlines, workspace.StateDeleting)
	require.Error(t, c.Validate())
	c = DefaultConfig()
	c.Provisioners = []workspace.Provisioner{"podman"}
	require.ErrorContains(t, c.Validate(), "podman")
}

func TestObserveEveryStateAndPhase(t *testing.T) {
	const (
		same    workspace.State = "" // no change
		removed workspace.State = "removed"
	)
	// The desired state a workspace has in each lifecycle state; a failed
	// workspace may have any, so it gets a row per desired state.
	type at struct {
		state   workspace.State
		desired workspace.Desired
	}
	rows := []at{
		{workspace.StateCreating, workspace.DesiredRunning},
		{workspace.StateRunning, workspace.DesiredRunning},
		{workspace.StateStopping, workspace.DesiredStopped},
		{workspace.StateStopped, workspace.DesiredStopped},
		{workspace.StateStarting, workspace.DesiredRunning},
		{workspace.StateRestarting, workspace.DesiredRunning},
		{workspace.StateDeleting, workspace.DesiredDeleted},
		{workspace.StateFailed, workspace.DesiredRunning},
		{workspace.StateFailed, workspace.DesiredStopped},
		{workspace.StateFailed, workspace.DesiredDeleted},
	}
	// want[phase][row], one entry per row above: the next state, same, or
	// removed (the record is deleted).
	want := map[workspace.Phase][]workspace.State{
		workspace.PhaseRunning: {workspace.StateRunning, same, same, same, workspace.StateRunning, workspace.StateRunning, same,
			workspace.StateRunning, same, same},
		workspace.PhaseStopped: {same, same, workspace.StateStopped, same, same, same, same,
			same, workspace.StateStopped, same},
		workspace.PhaseFailed: {workspace.StateFailed, workspace.StateFailed, workspace.StateFailed, same, workspace.StateFailed, workspace.StateFailed, workspace.StateFailed,
			same, same, same},
		workspace.PhaseDeleted: {same, same, same, same, same, same, removed,
			same, same, removed},
		workspace.PhaseProgressing: {same, same, same, same, same, same, same,
			same, same, same},
	}
	require.Len(t, want, len(workspace.Phases), "the table must cover every phase")
	covered := map[workspace.State]bool{}
	for _, r := range rows {
		covered[r.state] = true
	}
	require.Len(t, covered, len(workspace.States), "the rows must cover every state")
	for _, phase := range workspace.Phases {
		require.Len(t, want[phase], len(rows), "table for %s must cover every row", phase)
		for i, r := range rows {
			t.Run(fmt.Sprintf("%s/%s(desired %s)", phase, r.state, r.desired), func(t *testing.T) {
				next, remove := Observe(phase, r.state, r.desired)
				switch w := want[phase][i]; w {
				case removed:
					require.True(t, remove, "the report ends the workspace")
					require.Empty(t, next)
				default:
					require.False(t, remove)
					require.Equal(t, w, next)
				}
			})
		}
	}
}

func TestObserveUnknownPhase(t *testing.T) {
	next, remove := Observe("exploded", workspace.StateRunning, workspace.DesiredRunning)
	require.Empty(t, next)
	require.False(t, remove)
}
