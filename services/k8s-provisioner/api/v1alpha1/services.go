package v1alpha1

import "aileron.dev/pkg/workspace"

// Get returns the spec of service s (the canvas for an unknown name).
func (w WorkspaceServices) Get(s workspace.Service) ServiceSpec {
	switch s {
	case workspace.ServiceRuntime:
		return w.Runtime
	case workspace.ServiceTerminal:
		return w.Terminal
	case workspace.ServiceBrowser:
		return w.Browser
	default:
		return w.Canvas
	}
}
