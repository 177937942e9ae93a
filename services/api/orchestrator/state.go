package orchestrator

import (
	"errors"
	"slices"
	"strings"
)

// Lifecycle states of a workspace.
const (
	StateCreating   = "creating"
	StateRunning    = "running"
	StateStopping   = "stopping"
	StateStopped    = "stopped"
	StateStarting   = "starting"
	StateRestarting = "restarting"
	StateDeleting   = "deleting"
	StateFailed     = "failed"
)

// States lists every state, in lifecycle order.
var States = []string{StateCreating, StateRunning, StateStopping, StateStopped, StateStarting, StateRestarting, StateDeleting, StateFailed}

// Desired states a provisioner converges to.
const (
	DesiredRunning = "running"
	DesiredStopped = "stopped"
	DesiredDeleted = "deleted"
)

// Command is a user request that moves a workspace through the state machine.
type Command string

// Commands.
const (
	CmdStop           Command = "stop"
	CmdStart          Command = "start"
	CmdRestart        Command = "restart"
	CmdRestartService Command = "restart_service"
	CmdDelete         Command = "delete"
	CmdUpdateFirewall Command = "update_firewall"
)

// ErrInvalidTransition is wrapped by every refused command.
var ErrInvalidTransition = errors.New("invalid transition")

// transition is one row of the table: the command is accepted from `from`,
// answered idempotently (no change, no event) from `same`, and moves to `to`
// ("" keeps the state).
type transition struct {
	from    []string
	same    []string
	to      string
	desired string
	code    string // error code when refused
}

var transitions = map[Command]transition{
	CmdStop: {
		from: []string{StateRunning, StateFailed}, same: []string{StateStopping, StateStopped},
		to: StateStopping, desired: DesiredStopped, code: "WORKSPACE_STOP_NOT_ALLOWED",
	},
	CmdStart: {
		from: []string{StateStopped, StateFailed}, same: []string{StateStarting, StateRunning},
		to: StateStarting, desired: DesiredRunning, code: "WORKSPACE_START_NOT_ALLOWED",
	},
	CmdRestart: {
		from: []string{StateRunning}, same: []string{StateRestarting},
		to: StateRestarting, desired: DesiredRunning, code: "WORKSPACE_RESTART_NOT_ALLOWED",
	},
	CmdRestartService: {
		from: []string{StateRunning}, code: "WORKSPACE_SERVICE_RESTART_NOT_ALLOWED",
	},
	CmdDelete: {
		from: States, same: []string{StateDeleting}, to: StateDeleting, desired: DesiredDeleted,
	},
	CmdUpdateFirewall: {
		from: []string{StateCreating, StateRunning, StateStopping, StateStopped, StateStarting, StateRestarting, StateFailed},
		code: "FIREWALL_UPDATE_NOT_ALLOWED",
	},
}

// Decide applies the table: it returns the next state ("" to keep the current
// one), whether the command is an idempotent repeat, or an error wrapping
// ErrInvalidTransition. DELETE's "same" check comes first so a repeated delete
// is a no-op, not a new transition.
func Decide(cmd Command, state string) (next string, repeat bool, err error) {
	t, ok := transitions[cmd]
	if !ok {
		return "", false, &Error{Kind: ErrInvalidTransition, Code: "COMMAND_UNKNOWN", Message: "unknown command " + string(cmd)}
	}
	if slices.Contains(t.same, state) {
		return "", true, nil
	}
	if !slices.Contains(t.from, state) {
		verb := strings.ReplaceAll(string(cmd), "_", " ")
		return "", false, &Error{
			Kind: ErrInvalidTransition, Code: t.code, Field: "state",
			Message: "cannot " + verb + ": the workspace state is " + state + " (allowed from " + strings.Join(t.from, ", ") + ")",
		}
	}
	return t.to, false, nil
}

// transitional reports whether a state has a deadline.
func transitional(state string) bool {
	switch state {
	case StateCreating, StateStopping, StateStarting, StateRestarting, StateDeleting:
		return true
	}
	return false
}
