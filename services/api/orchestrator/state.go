package orchestrator

import (
	"errors"
	"slices"
	"strings"

	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/workspace"
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

// Commands lists every command, in the order the console shows them.
var Commands = []Command{CmdStop, CmdStart, CmdRestart, CmdRestartService, CmdDelete, CmdUpdateFirewall}

// ErrInvalidTransition is wrapped by every refused command.
var ErrInvalidTransition = errors.New("invalid transition")

// transition is one row of the command table: the command is accepted from
// `from`, answered idempotently (no change, no event) from `same`, and moves
// to `to` ("" keeps the state) with the desired state `desired` ("" keeps
// it), announcing itself with event type `event` and state reason `reason`.
type transition struct {
	from    []workspace.State
	same    []workspace.State
	to      workspace.State
	desired workspace.Desired
	event   string
	reason  string
	code    errcode.Code // when refused
}

var transitions = map[Command]transition{
	CmdStop: {
		from: []workspace.State{workspace.StateRunning, workspace.StateFailed},
		same: []workspace.State{workspace.StateStopping, workspace.StateStopped},
		to:   workspace.StateStopping, desired: workspace.DesiredStopped,
		event: event.TypeStopRequested, reason: "stop requested", code: errcode.WorkspaceStopNotAllowed,
	},
	CmdStart: {
		from: []workspace.State{workspace.StateStopped, workspace.StateFailed},
		same: []workspace.State{workspace.StateStarting, workspace.StateRunning},
		to:   workspace.StateStarting, desired: workspace.DesiredRunning,
		event: event.TypeStartRequested, reason: "start requested", code: errcode.WorkspaceStartNotAllowed,
	},
	CmdRestart: {
		from: []workspace.State{workspace.StateRunning},
		same: []workspace.State{workspace.StateRestarting},
		to:   workspace.StateRestarting, desired: workspace.DesiredRunning,
		event: event.TypeRestartRequested, reason: "restart requested", code: errcode.WorkspaceRestartNotAllowed,
	},
	CmdRestartService: {
		from:  []workspace.State{workspace.StateRunning},
		event: event.TypeServiceRestartRequested, code: errcode.WorkspaceServiceRestartNotAllowed,
	},
	CmdDelete: {
		from: workspace.States,
		same: []workspace.State{workspace.StateDeleting},
		to:   workspace.StateDeleting, desired: workspace.DesiredDeleted,
		event: event.TypeDeleteRequested, reason: "delete requested",
	},
	CmdUpdateFirewall: {
		from: []workspace.State{workspace.StateCreating, workspace.StateRunning, workspace.StateStopping, workspace.StateStopped,
			workspace.StateStarting, workspace.StateRestarting, workspace.StateFailed},
		event: event.TypeFirewallUpdated, code: errcode.FirewallUpdateNotAllowed,
	},
}

// Decide applies the table: it returns the next state ("" to keep the current
// one), whether the command is an idempotent repeat, or an error wrapping
// ErrInvalidTransition. DELETE's "same" check comes first so a repeated delete
// is a no-op, not a new transition.
func Decide(cmd Command, state workspace.State) (next workspace.State, repeat bool, err error) {
	t, ok := transitions[cmd]
	if !ok {
		return "", false, &Error{Kind: ErrInvalidTransition, Code: errcode.CommandUnknown, Message: "unknown command " + string(cmd)}
	}
	if slices.Contains(t.same, state) {
		return "", true, nil
	}
	if !slices.Contains(t.from, state) {
		verb := strings.ReplaceAll(string(cmd), "_", " ")
		return "", false, &Error{
			Kind: ErrInvalidTransition, Code: t.code, Field: "state",
			Message: "cannot " + verb + ": the workspace state is " + string(state) + " (allowed from " + join(t.from) + ")",
		}
	}
	return t.to, false, nil
}

// AllowedFrom lists the states cmd is accepted from (repeats excluded), in
// lifecycle order; the console disables an action in every other state.
func AllowedFrom(cmd Command) []workspace.State {
	return slices.Clone(transitions[cmd].from)
}

// observation is one row of the report table: what a provisioner's report of
// a phase does to a workspace.
type observation struct {
	// from lists the states the report completes; it moves them to `to`.
	from []workspace.State
	to   workspace.State
	// leaveFailedFor lets the report move a failed workspace to `to` only
	// while the desired state is this one: a failed workspace leaves failed
	// only toward what was last asked for ("" keeps it failed).
	leaveFailedFor workspace.Desired
	// removeFor ends the workspace (the record is deleted) when the desired
	// state is this one.
	removeFor workspace.Desired
}

var observations = map[workspace.Phase]observation{
	workspace.PhaseRunning: {
		from: []workspace.State{workspace.StateCreating, workspace.StateStarting, workspace.StateRestarting},
		to:   workspace.StateRunning, leaveFailedFor: workspace.DesiredRunning,
	},
	workspace.PhaseStopped: {
		from: []workspace.State{workspace.StateStopping},
		to:   workspace.StateStopped, leaveFailedFor: workspace.DesiredStopped,
	},
	workspace.PhaseFailed: {
		from: []workspace.State{workspace.StateCreating, workspace.StateStarting, workspace.StateRestarting,
			workspace.StateStopping, workspace.StateDeleting, workspace.StateRunning},
		to: workspace.StateFailed,
	},
	workspace.PhaseDeleted:     {removeFor: workspace.DesiredDeleted},
	workspace.PhaseProgressing: {},
}

// Observe applies the report table: the state a report of phase moves a
// workspace in state (with desired state desired) to, "" for none, and
// whether the report ends the workspace.
func Observe(phase workspace.Phase, state workspace.State, desired workspace.Desired) (next workspace.State, remove bool) {
	o, ok := observations[phase]
	if !ok {
		return "", false
	}
	if o.removeFor != "" {
		return "", desired == o.removeFor
	}
	if slices.Contains(o.from, state) || (state == workspace.StateFailed && o.leaveFailedFor != "" && desired == o.leaveFailedFor) {
		return o.to, false
	}
	return "", false
}
