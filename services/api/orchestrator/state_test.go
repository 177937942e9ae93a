package orchestrator

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecideEveryStateAndCommand(t *testing.T) {
	const (
		refused = "refused"
		repeat  = "repeat"
	)
	// want[command][state]: the next state, "" to keep it, repeat or refused.
	want := map[Command]map[string]string{
		CmdStop: {
			StateCreating: refused, StateRunning: StateStopping, StateStopping: repeat, StateStopped: repeat,
			StateStarting: refused, StateRestarting: refused, StateDeleting: refused, StateFailed: StateStopping,
		},
		CmdStart: {
			StateCreating: refused, StateRunning: repeat, StateStopping: refused, StateStopped: StateStarting,
			StateStarting: repeat, StateRestarting: refused, StateDeleting: refused, StateFailed: StateStarting,
		},
		CmdRestart: {
			StateCreating: refused, StateRunning: StateRestarting, StateStopping: refused, StateStopped: refused,
			StateStarting: refused, StateRestarting: repeat, StateDeleting: refused, StateFailed: refused,
		},
		CmdRestartService: {
			StateCreating: refused, StateRunning: "", StateStopping: refused, StateStopped: refused,
			StateStarting: refused, StateRestarting: refused, StateDeleting: refused, StateFailed: refused,
		},
		CmdDelete: {
			StateCreating: StateDeleting, StateRunning: StateDeleting, StateStopping: StateDeleting, StateStopped: StateDeleting,
			StateStarting: StateDeleting, StateRestarting: StateDeleting, StateDeleting: repeat, StateFailed: StateDeleting,
		},
		CmdUpdateFirewall: {
			StateCreating: "", StateRunning: "", StateStopping: "", StateStopped: "",
			StateStarting: "", StateRestarting: "", StateDeleting: refused, StateFailed: "",
		},
	}
	for cmd, byState := range want {
		require.Len(t, byState, len(States), "table for %s must cover every state", cmd)
		for _, state := range States {
			t.Run(fmt.Sprintf("%s/%s", cmd, state), func(t *testing.T) {
				next, rep, err := Decide(cmd, state)
				switch w := byState[state]; w {
				case refused:
					require.ErrorIs(t, err, ErrInvalidTransition)
					var de *Error
					require.True(t, errors.As(err, &de))
					require.NotEmpty(t, de.Code)
					require.Contains(t, de.Message, state)
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
	_, _, err := Decide("explode", StateRunning)
	require.ErrorIs(t, err, ErrInvalidTransition)
}

func TestConfigValidate(t *testing.T) {
	require.NoError(t, DefaultConfig().Validate())
	c := DefaultConfig()
	delete(c.Deadlines, StateDeleting)
	require.Error(t, c.Validate())
	c = DefaultConfig()
	c.Provisioners = []string{"podman"}
	require.ErrorContains(t, c.Validate(), "podman")
}
