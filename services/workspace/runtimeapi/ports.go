package runtimeapi

import (
	"net/http"

	"aileron.dev/services/workspace/ports"
)

// listPorts answers the TCP ports listening in the workspace (its network
// namespace: the container, or on Kubernetes the pod).
func (s *Server) listPorts(w http.ResponseWriter, _ *http.Request) {
	ps, err := ports.Listening("/proc/net")
	if err != nil {
		s.fail(w, err, "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ports": ps})
}
