// Package workspace is the shared vocabulary of Aileron workspaces: lifecycle
// states, desired states, provisioner report phases, service names and
// states, firewall phases and provisioner names. Each word has its own type,
// so a lifecycle state cannot be passed where a service state is meant; the
// wire strings are the values of the constants and never change.
package workspace

import "slices"

// State is the lifecycle state of a workspace, owned by the orchestrator.
type State string

// Lifecycle states.
const (
	StateCreating   State = "creating"
	StateRunning    State = "running"
	StateStopping   State = "stopping"
	StateStopped    State = "stopped"
	StateStarting   State = "starting"
	StateRestarting State = "restarting"
	StateDeleting   State = "deleting"
	StateFailed     State = "failed"
)

// States lists every lifecycle state, in lifecycle order.
var States = []State{StateCreating, StateRunning, StateStopping, StateStopped, StateStarting, StateRestarting, StateDeleting, StateFailed}

// Transitional reports whether s is on its way to another state; such a state
// has a deadline, and missing it ends in failed.
func (s State) Transitional() bool {
	switch s {
	case StateCreating, StateStopping, StateStarting, StateRestarting, StateDeleting:
		return true
	}
	return false
}

// Valid reports whether s is one of States.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Desired is the state a provisioner converges a workspace to.
type Desired string

// Desired states.
const (
	DesiredRunning Desired = "running"
	DesiredStopped Desired = "stopped"
	DesiredDeleted Desired = "deleted"
)

// Phase is what a provisioner reports it observed of a workspace.
type Phase string

// Report phases.
const (
	PhaseRunning     Phase = "running"
	PhaseStopped     Phase = "stopped"
	PhaseDeleted     Phase = "deleted"
	PhaseFailed      Phase = "failed"
	PhaseProgressing Phase = "progressing"
)

// Service names one service of a workspace.
type Service string

// Services of a workspace.
const (
	ServiceRuntime  Service = "runtime"
	ServiceTerminal Service = "terminal"
	ServiceBrowser  Service = "browser"
	ServiceCanvas   Service = "canvas"
)

// Services lists every service, in display order.
var Services = []Service{ServiceRuntime, ServiceTerminal, ServiceBrowser, ServiceCanvas}

// Valid reports whether s is one of Services.
func (s Service) Valid() bool { return slices.Contains(Services, s) }

// ServiceState is the observed state of one service.
type ServiceState string

// Service states. The orchestrator sets pending, restarting and disabled
// before a provisioner reports; provisioners report the others.
const (
	ServicePending    ServiceState = "pending"
	ServicePulling    ServiceState = "pulling"
	ServiceStarting   ServiceState = "starting"
	ServiceRunning    ServiceState = "running"
	ServiceRestarting ServiceState = "restarting"
	ServiceStopped    ServiceState = "stopped"
	ServiceFailed     ServiceState = "failed"
	ServiceDisabled   ServiceState = "disabled"
)

// ServiceStates lists every service state.
var ServiceStates = []ServiceState{ServicePending, ServicePulling, ServiceStarting, ServiceRunning, ServiceRestarting, ServiceStopped, ServiceFailed, ServiceDisabled}

// FirewallPhase is how far a workspace's egress policy is enforced.
type FirewallPhase string

// Firewall phases.
const (
	// FirewallApplying: the policy service computed a revision that no
	// enforcer has confirmed yet.
	FirewallApplying FirewallPhase = "applying"
	// FirewallApplied: the enforcer enforces the revision.
	FirewallApplied FirewallPhase = "applied"
	// FirewallDegraded: enforced, with a known weakness named in the message.
	FirewallDegraded FirewallPhase = "degraded"
	// FirewallUnavailable: nothing on this backend can enforce it.
	FirewallUnavailable FirewallPhase = "unavailable"
	// FirewallError: computing or enforcing the policy failed.
	FirewallError FirewallPhase = "error"
)

// FirewallPhases lists every firewall phase.
var FirewallPhases = []FirewallPhase{FirewallApplying, FirewallApplied, FirewallDegraded, FirewallUnavailable, FirewallError}

// Provisioner names the backend that runs a workspace.
type Provisioner string

// Provisioners.
const (
	ProvisionerDocker     Provisioner = "docker"
	ProvisionerKubernetes Provisioner = "kubernetes"
)

// Provisioners lists every provisioner.
var Provisioners = []Provisioner{ProvisionerDocker, ProvisionerKubernetes}

// Valid reports whether p is one of Provisioners.
func (p Provisioner) Valid() bool { return slices.Contains(Provisioners, p) }
