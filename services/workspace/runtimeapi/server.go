// Package runtimeapi is the HTTP API of the runtime daemon: exec with
// streamed output, sessions, files and the activity signal, JSON in and
// out, streams as newline-delimited JSON over chunked HTTP. docs/runtime.md
// is its reference.
package runtimeapi

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/workspace/activity"
	"aileron.dev/services/workspace/agent"
	"aileron.dev/services/workspace/apijson"
	"aileron.dev/services/workspace/exec"
	"aileron.dev/services/workspace/files"
	"aileron.dev/services/workspace/session"
)

// Limits bound what callers can make the daemon hold.
type Limits struct {
	// MaxExecs is the most execs running at once.
	MaxExecs int
	// MaxBodyBytes caps a JSON request body (a file write has its own cap).
	MaxBodyBytes int64
	// ExecTimeout is an exec's timeout when the request names none.
	ExecTimeout time.Duration
	// MaxExecTimeout is the longest timeout a request may ask for.
	MaxExecTimeout time.Duration
	// StallTimeout ends a stream whose reader took no data for this long.
	StallTimeout time.Duration
}

// Server holds the daemon's parts.
type Server struct {
	limits   Limits
	files    *files.FS
	sessions *session.Manager
	activity *activity.Tracker
	starter  exec.Starter
	execs    chan struct{}
	agents   agent.Set
	watches  chan struct{}
	// peers are the workspace's other daemons whose activity counts too.
	peers activity.Peers
	// previewDeny are the ports a preview must not reach.
	previewDeny []uint16
	// resolvConf names the container's name servers (previewTarget).
	resolvConf string
	log        *slog.Logger
}

// New returns the API over its parts; starter may be nil.
func New(l Limits, fs *files.FS, sm *session.Manager, act *activity.Tracker, starter exec.Starter, log *slog.Logger) *Server {
	return &Server{
		limits: l, files: fs, sessions: sm, activity: act, starter: starter,
		execs: make(chan struct{}, l.MaxExecs), agents: agent.Default,
		watches: make(chan struct{}, maxWatches), resolvConf: "/etc/resolv.conf", log: log,
	}
}

// Handler routes the API. Calls that do work count as activity; health,
// the activity read itself and read-only looks (stat, list, session list)
// do not, so a console polling them never keeps a workspace awake.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /v1/activity", s.readActivity)

	mux.Handle("POST /v1/exec", s.work("exec", s.exec))

	mux.Handle("POST /v1/sessions", s.work("session.start", s.startSession))
	mux.HandleFunc("GET /v1/sessions", s.listSessions)
	mux.HandleFunc("GET /v1/sessions/{tag}", s.getSession)
	mux.HandleFunc("GET /v1/sessions/{tag}/output", s.sessionOutput)
	mux.Handle("POST /v1/sessions/{tag}/input", s.work("session.input", s.sessionInput))
	mux.Handle("POST /v1/sessions/{tag}/signal", s.work("session.signal", s.sessionSignal))
	mux.Handle("DELETE /v1/sessions/{tag}", s.work("session.remove", s.removeSession))

	mux.HandleFunc("GET /v1/ports", s.listPorts)
	mux.HandleFunc("GET /v1/agents", s.listAgents)
	mux.Handle("POST /v1/agents/{name}/runs", s.work("agent.run", s.startRun))

	mux.HandleFunc("GET /v1/files/stat", s.stat)
	mux.HandleFunc("GET /v1/files/list", s.list)
	mux.HandleFunc("GET /v1/files/watch", s.watchFiles)
	mux.Handle("GET /v1/files/content", s.work("files.read", s.read))
	mux.Handle("PUT /v1/files/content", s.work("files.write", s.write))
	mux.Handle("POST /v1/files/mkdir", s.work("files.mkdir", s.mkdir))
	mux.Handle("POST /v1/files/move", s.work("files.move", s.move))
	mux.Handle("DELETE /v1/files", s.work("files.remove", s.remove))

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, apiError{status: http.StatusNotFound, code: errcode.RouteNotFound, msg: "no route " + r.Method + " " + r.URL.Path})
	})
	return mux
}

// Previews sends a front-door preview request (one carrying
// workspace.PreviewPortHeader) to the port it names and every other request
// to next; the daemon wraps all its routes in it, the terminal page's too.
func (s *Server) Previews(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header[http.CanonicalHeaderKey(workspace.PreviewPortHeader)]; ok {
			s.preview(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// WithActivityPeers sets the daemons whose activity GET /v1/activity
// merges with this one's, and returns s.
func (s *Server) WithActivityPeers(p activity.Peers) *Server {
	s.peers = p
	return s
}

// readActivity answers the workspace's activity: this daemon's merged with
// its peers' (?local=1: this daemon's alone, which is what peers ask).
func (s *Server) readActivity(w http.ResponseWriter, r *http.Request) {
	own := s.activity.Snapshot()
	if r.URL.RawQuery == activity.LocalQuery {
		apijson.Write(w, http.StatusOK, own)
		return
	}
	apijson.Write(w, http.StatusOK, s.peers.Read(r.Context(), own))
}

// work counts a call as activity from source once it is accepted (its
// answer starts with a status below 400): a refused call did no work.
func (s *Server) work(source string, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(&activityWriter{ResponseWriter: w, touch: func() { s.activity.Touch(source) }}, r)
	})
}

// activityWriter calls touch when a successful answer starts.
type activityWriter struct {
	http.ResponseWriter
	touch   func()
	written bool
}

func (a *activityWriter) WriteHeader(status int) {
	if !a.written && status < 400 {
		a.touch()
	}
	a.written = true
	a.ResponseWriter.WriteHeader(status)
}

func (a *activityWriter) Write(b []byte) (int, error) {
	if !a.written {
		a.WriteHeader(http.StatusOK)
	}
	return a.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (flush, deadlines).
func (a *activityWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }
