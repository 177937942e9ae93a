package runtimeapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/apijson"
	"aileron.dev/services/workspace/exec"
	"aileron.dev/services/workspace/session"
)

// sessionRequest is the body of POST /v1/sessions.
type sessionRequest struct {
	commandRequest
	Tag   string `json:"tag"`
	Agent bool   `json:"agent"`
}

func (s *Server) startSession(w http.ResponseWriter, r *http.Request) {
	var req sessionRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, err, "")
		return
	}
	spec, err := s.spec(req.commandRequest)
	if err != nil {
		s.fail(w, err, "cwd")
		return
	}
	sess, err := s.sessions.Start(r.Context(), session.Spec{Tag: req.Tag, Command: spec, Agent: req.Agent})
	if err != nil {
		s.fail(w, err, fieldOf(err))
		return
	}
	apijson.Write(w, http.StatusCreated, sess.Info())
}

func fieldOf(err error) string {
	for _, e := range []error{session.ErrTagInvalid, session.ErrExists} {
		if errors.Is(err, e) {
			return "tag"
		}
	}
	return "argv"
}

func (s *Server) listSessions(w http.ResponseWriter, _ *http.Request) {
	apijson.Write(w, http.StatusOK, map[string]any{"sessions": s.sessions.List()})
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	sess, err := s.sessions.Get(r.PathValue("tag"))
	if err != nil {
		s.fail(w, err, "tag")
		return
	}
	apijson.Write(w, http.StatusOK, sess.Info())
}

// sessionOutput replays the session's buffered output from ?from= (default
// the oldest kept) and, unless ?follow=false, streams what comes next until
// the exit.
func (s *Server) sessionOutput(w http.ResponseWriter, r *http.Request) {
	sess, err := s.sessions.Get(r.PathValue("tag"))
	if err != nil {
		s.fail(w, err, "tag")
		return
	}
	q := r.URL.Query()
	var from uint64
	if v := q.Get("from"); v != "" {
		if from, err = strconv.ParseUint(v, 10, 64); err != nil {
			s.fail(w, invalid(errcode.RequestInvalid, "from", "from must be a sequence number"), "")
			return
		}
	}
	follow := q.Get("follow") != "false"
	out := newNDJSON(w, s.limits.StallTimeout)
	text := textSplitter{}
	_ = sess.Follow(r.Context(), from, follow, func(e session.Event) error {
		return out.send(wireEvent(text, e))
	})
}

// sessionEvent is a session event on the wire.
type sessionEvent struct {
	outputEvent
	Seq  uint64     `json:"seq"`
	Lost uint64     `json:"lost,omitempty"`
	Exit *exec.Exit `json:"exit,omitempty"`
}

func wireEvent(text textSplitter, e session.Event) sessionEvent {
	out := sessionEvent{outputEvent: outputEvent{Type: e.Kind}, Seq: e.Seq, Lost: e.Lost, Exit: e.Exit}
	if e.Kind == session.KindStdout || e.Kind == session.KindStderr {
		out.outputEvent = text.event(e.Kind, e.Data)
	}
	return out
}

// inputRequest is the body of POST /v1/sessions/{tag}/input.
type inputRequest struct {
	Data string `json:"data"`
	EOF  bool   `json:"eof"`
}

func (s *Server) sessionInput(w http.ResponseWriter, r *http.Request) {
	var req inputRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, err, "")
		return
	}
	sess, err := s.sessions.Get(r.PathValue("tag"))
	if err != nil {
		s.fail(w, err, "tag")
		return
	}
	if err := sess.Write([]byte(req.Data), req.EOF); err != nil {
		s.fail(w, err, "data")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// signalRequest is the body of POST /v1/sessions/{tag}/signal.
type signalRequest struct {
	Signal string `json:"signal"`
}

func (s *Server) sessionSignal(w http.ResponseWriter, r *http.Request) {
	var req signalRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, err, "")
		return
	}
	sig, ok := exec.ParseSignal(req.Signal)
	if !ok {
		s.fail(w, invalid(errcode.SignalInvalid, "signal", "signal "+strconv.Quote(req.Signal)+" is not one of HUP, INT, QUIT, KILL, TERM, USR1, USR2, PIPE, ALRM, STOP, CONT, TSTP, WINCH"), "")
		return
	}
	sess, err := s.sessions.Get(r.PathValue("tag"))
	if err != nil {
		s.fail(w, err, "tag")
		return
	}
	if err := sess.Signal(sig); err != nil {
		s.fail(w, err, "signal")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// removeSession kills the session if it runs and forgets it.
func (s *Server) removeSession(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if err := s.sessions.Remove(ctx, r.PathValue("tag")); err != nil {
		s.fail(w, err, "tag")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
