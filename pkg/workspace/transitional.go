package workspace

// Transitional reports whether a service in state s is on its way somewhere
// (the console shows a spinner).
func (s ServiceState) Transitional() bool {
	switch s {
	case ServicePending, ServicePulling, ServiceStarting, ServiceRestarting:
		return true
	}
	return false
}

// Transitional reports whether the firewall in phase p waits for an enforcer.
func (p FirewallPhase) Transitional() bool { return p == FirewallApplying }
