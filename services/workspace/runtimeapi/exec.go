package runtimeapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/exec"
)

// commandRequest is what exec and session start share.
type commandRequest struct {
	Argv  []string          `json:"argv"`
	Shell string            `json:"shell"`
	Cwd   string            `json:"cwd"`
	Env   map[string]string `json:"env"`
}

// execRequest is the body of POST /v1/exec.
type execRequest struct {
	commandRequest
	Stdin     string `json:"stdin"`
	TimeoutMS int64  `json:"timeout_ms"`
}

// exitEvent is the last line of an exec stream.
type exitEvent struct {
	Type string `json:"type"`
	exec.Exit
	DurationMS int64 `json:"duration_ms"`
}

// spec checks a command request and resolves its working directory.
func (s *Server) spec(c commandRequest) (exec.Spec, error) {
	spec := exec.Spec{Argv: c.Argv, Shell: c.Shell}
	if err := spec.Validate(); err != nil {
		return spec, invalid(errcode.CommandInvalid, "argv", err.Error())
	}
	for k, v := range c.Env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return spec, invalid(errcode.CommandInvalid, "env", fmt.Sprintf("env name %q must be non-empty without '=' or NUL", k))
		}
		spec.Env = append(spec.Env, k+"="+v)
	}
	cwd := c.Cwd
	if cwd == "" {
		cwd = "."
	}
	dir, err := s.files.Abs(cwd)
	if err != nil {
		return spec, err
	}
	spec.Dir = dir
	return spec, nil
}

// exec runs a command and streams its output, then its exit. A client that
// goes away kills the command.
func (s *Server) exec(w http.ResponseWriter, r *http.Request) {
	var req execRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, err, "")
		return
	}
	spec, err := s.spec(req.commandRequest)
	if err != nil {
		s.fail(w, err, "cwd")
		return
	}
	if spec.Timeout, err = s.timeout(req.TimeoutMS); err != nil {
		s.fail(w, err, "timeout_ms")
		return
	}
	if req.Stdin != "" {
		spec.Stdin = strings.NewReader(req.Stdin)
	}
	select {
	case s.execs <- struct{}{}:
		defer func() { <-s.execs }()
	default:
		s.fail(w, apiError{status: http.StatusTooManyRequests, code: errcode.ProcessLimitReached,
			msg: fmt.Sprintf("at most %d execs run at once", s.limits.MaxExecs)}, "")
		return
	}
	start := time.Now()
	proc, err := exec.Start(r.Context(), spec, s.starter)
	if err != nil {
		s.fail(w, err, "argv")
		return
	}
	out := newNDJSON(w, s.limits.StallTimeout)
	text := textSplitter{}
	exit := proc.Stream(func(c exec.Chunk) error {
		if e := text.event(string(c.Stream), c.Data); !e.empty() {
			return out.send(e)
		}
		return nil
	})
	for _, e := range text.rest() {
		_ = out.send(e)
	}
	_ = out.send(exitEvent{Type: "exit", Exit: exit, DurationMS: time.Since(start).Milliseconds()})
}

func (s *Server) timeout(ms int64) (time.Duration, error) {
	d := time.Duration(ms) * time.Millisecond
	switch {
	case ms == 0:
		return s.limits.ExecTimeout, nil
	case ms < 0 || d > s.limits.MaxExecTimeout:
		return 0, invalid(errcode.CommandInvalid, "timeout_ms",
			fmt.Sprintf("timeout_ms must be between 1 and %d", s.limits.MaxExecTimeout.Milliseconds()))
	}
	return d, nil
}
