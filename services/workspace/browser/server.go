// Package browser is the browser daemon of a workspace: it supervises a
// headless Chromium in the same container, carries the DevTools protocol
// (whose port Chromium binds to loopback only) out through one port, and
// serves tabs, screenshots and a live preview a person can take over.
// docs/browser.md is its reference.
package browser

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/activity"
	"aileron.dev/services/workspace/apijson"
)

// Limits bound what clients can make the daemon hold.
type Limits struct {
	// MaxMessageBytes caps one WebSocket message either way.
	MaxMessageBytes int64
	// MaxConns is the most DevTools and screencast WebSockets open at once.
	MaxConns int
	// MessagesPerSecond paces each DevTools client's messages to Chromium
	// (with a burst of as many); a faster client waits.
	MessagesPerSecond int
	// MaxBodyBytes caps a JSON request body.
	MaxBodyBytes int64
	// WriteTimeout drops a WebSocket client that takes nothing for this long.
	WriteTimeout time.Duration
}

// Server is the daemon's HTTP side over a supervisor.
type Server struct {
	sup      *Supervisor
	limits   Limits
	conns    chan struct{}
	activity *activity.Tracker
	log      *slog.Logger
}

// NewServer returns the API over sup; what clients do to the browser is
// recorded in act.
func NewServer(sup *Supervisor, l Limits, act *activity.Tracker, log *slog.Logger) *Server {
	return &Server{sup: sup, limits: l, conns: make(chan struct{}, l.MaxConns), activity: act, log: log}
}

// Handler routes the DevTools endpoints, the API and the preview page.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		apijson.Write(w, http.StatusOK, s.sup.Status())
	})
	// The browser daemon has no peers: any query reads its own activity.
	mux.HandleFunc("GET /v1/activity", func(w http.ResponseWriter, _ *http.Request) {
		apijson.Write(w, http.StatusOK, s.activity.Snapshot())
	})
	mux.HandleFunc("/json", s.devtoolsHTTP)
	mux.HandleFunc("/json/", s.devtoolsHTTP)
	mux.HandleFunc("GET /devtools/{kind}/{id}", s.devtoolsWS)
	mux.HandleFunc("GET /v1/tabs", s.listTabs)
	mux.HandleFunc("POST /v1/tabs", s.newTab)
	mux.HandleFunc("DELETE /v1/tabs/{id}", s.closeTab)
	mux.HandleFunc("POST /v1/tabs/{id}/navigate", s.navigateTab)
	mux.HandleFunc("GET /v1/screenshot", s.screenshot)
	mux.HandleFunc("GET /v1/screencast", s.screencast)
	ui := uiHandler()
	mux.Handle("GET /{$}", ui)
	mux.Handle("GET "+AssetsPath, ui)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apijson.WriteError(w, http.StatusNotFound, errcode.RouteNotFound, "no route "+r.Method+" "+r.URL.Path, "")
	})
	return mux
}

// healthz answers 200 only while Chromium answers, else 503 naming the state.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	st := s.sup.Status()
	if st.State != StateRunning {
		apijson.Write(w, http.StatusServiceUnavailable, map[string]any{
			"state": st.State, "code": errcode.BrowserUnavailable, "message": "chromium is " + string(st.State),
		})
		return
	}
	apijson.Write(w, http.StatusOK, map[string]any{"state": st.State})
}

// upstream is Chromium's DevTools address, or it answers 503 and "".
func (s *Server) upstream(w http.ResponseWriter) string {
	addr := s.sup.Addr()
	if addr == "" {
		apijson.WriteError(w, http.StatusServiceUnavailable, errcode.BrowserUnavailable,
			"chromium is "+string(s.sup.Status().State), "")
	}
	return addr
}

// acquire takes a WebSocket slot or answers 429 and false.
func (s *Server) acquire(w http.ResponseWriter) (release func(), ok bool) {
	select {
	case s.conns <- struct{}{}:
		return func() { <-s.conns }, true
	default:
		apijson.WriteError(w, http.StatusTooManyRequests, errcode.BrowserConnectionLimitReached,
			"the most connections are already open", "")
		return nil, false
	}
}

// Errors of the tab API, mapped to codes by fail.
var (
	// ErrURLInvalid is a URL that is not http, https or about:blank.
	ErrURLInvalid = errors.New("url must be http, https or about:blank")
	// ErrTabNotFound is a tab id Chromium does not know.
	ErrTabNotFound = errors.New("no such tab")
	// ErrUnavailable is Chromium not running or not answering.
	ErrUnavailable = errors.New("chromium is not answering")
)

// fail answers err about field.
func (s *Server) fail(w http.ResponseWriter, err error, field string) {
	switch {
	case errors.Is(err, ErrURLInvalid):
		apijson.WriteError(w, http.StatusBadRequest, errcode.BrowserURLInvalid, err.Error(), field)
	case errors.Is(err, ErrTabNotFound):
		apijson.WriteError(w, http.StatusNotFound, errcode.BrowserTabNotFound, err.Error(), field)
	case errors.Is(err, ErrUnavailable):
		apijson.WriteError(w, http.StatusServiceUnavailable, errcode.BrowserUnavailable, err.Error(), "")
	default:
		s.log.Error("browser request failed", slog.Any("error", err))
		apijson.WriteInternal(w)
	}
}
