package runtimeapi

import (
	"net/http"
	"slices"

	"aileron.dev/services/workspace/apijson"
	"aileron.dev/services/workspace/ports"
)

// listedPort is one entry of GET /v1/ports.
type listedPort struct {
	ports.Port
	// Daemon marks a port of the workspace's own daemons, which has no
	// preview (PREVIEW_PORT_REFUSED).
	Daemon bool `json:"daemon,omitempty"`
	// Previewable is true when the port has a preview through the front
	// door (previewTarget).
	Previewable bool `json:"previewable"`
}

// listPorts answers the TCP ports listening in the workspace (its network
// namespace: the container, or on Kubernetes the pod).
func (s *Server) listPorts(w http.ResponseWriter, _ *http.Request) {
	ps, err := ports.Listening("/proc/net")
	if err != nil {
		s.fail(w, err, "")
		return
	}
	resolvers := nameServers(s.resolvConf)
	out := make([]listedPort, 0, len(ps))
	for _, p := range ps {
		daemon := slices.Contains(s.previewDeny, p.Port)
		_, target := previewTarget(p, resolvers)
		out = append(out, listedPort{Port: p, Daemon: daemon, Previewable: target && !daemon})
	}
	apijson.Write(w, http.StatusOK, map[string]any{"ports": out})
}
