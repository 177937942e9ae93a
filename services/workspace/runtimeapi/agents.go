package runtimeapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"

	"aileron.dev/services/workspace/agent"
	"aileron.dev/services/workspace/apijson"
	"aileron.dev/services/workspace/session"
)

// WithAgents sets the agents runs may start (agent.Default when never
// called) and returns s.
func (s *Server) WithAgents(a agent.Set) *Server {
	s.agents = a
	return s
}

// runRequest is the body of POST /v1/agents/{name}/runs.
type runRequest struct {
	Prompt string            `json:"prompt"`
	Tag    string            `json:"tag"`
	Cwd    string            `json:"cwd"`
	Env    map[string]string `json:"env"`
}

func (s *Server) listAgents(w http.ResponseWriter, _ *http.Request) {
	apijson.Write(w, http.StatusOK, map[string]any{"agents": s.agents.List()})
}

// startRun starts the agent's command line with the prompt as a session
// marked as an agent run: its output, input, signals and end are the
// session API's, and the workspace counts as active while it runs.
func (s *Server) startRun(w http.ResponseWriter, r *http.Request) {
	var req runRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, err, "")
		return
	}
	name := r.PathValue("name")
	argv, err := s.agents.Argv(name, req.Prompt)
	if err != nil {
		field := "name"
		if errors.Is(err, agent.ErrPromptEmpty) {
			field = "prompt"
		}
		s.fail(w, err, field)
		return
	}
	spec, err := s.spec(commandRequest{Argv: argv, Cwd: req.Cwd, Env: req.Env})
	if err != nil {
		s.fail(w, err, "cwd")
		return
	}
	if req.Tag == "" {
		req.Tag = "agent-" + name + "-" + randomHex(4)
	}
	sess, err := s.sessions.Start(r.Context(), session.Spec{Tag: req.Tag, Command: spec, Agent: true})
	if err != nil {
		s.fail(w, err, fieldOf(err))
		return
	}
	apijson.Write(w, http.StatusCreated, sess.Info())
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
