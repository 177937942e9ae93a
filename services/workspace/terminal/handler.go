package terminal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/coder/websocket"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/apijson"
	"aileron.dev/services/workspace/session"
)

// Handler serves the terminal API under /v1/terminals (docs/terminal.md).
// Every call that carries an Origin must come from an allowed one: a web
// page elsewhere may neither attach nor create nor kill.
func (m *Manager) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/terminals", func(w http.ResponseWriter, _ *http.Request) {
		apijson.Write(w, http.StatusOK, map[string]any{"terminals": m.List()})
	})
	mux.HandleFunc("POST /v1/terminals", m.create)
	mux.HandleFunc("GET /v1/terminals/{id}", m.get)
	mux.HandleFunc("GET /v1/terminals/{id}/attach", m.attach)
	mux.HandleFunc("DELETE /v1/terminals/{id}", m.remove)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		apijson.WriteError(w, http.StatusNotFound, errcode.RouteNotFound, "no route "+r.Method+" "+r.URL.Path, "")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.checkOrigin(r); err != nil {
			apijson.WriteError(w, http.StatusForbidden, errcode.OriginNotAllowed, err.Error(), "Origin")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// checkOrigin allows a request without Origin (not from a browser), one
// from its own host, and one from a configured pattern.
func (m *Manager) checkOrigin(r *http.Request) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("origin %q is not allowed", origin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return nil
	}
	for _, p := range m.opts.OriginPatterns {
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(u.Host)); ok {
			return nil
		}
	}
	return fmt.Errorf("origin %q is not allowed: not the host %q nor a configured origin", origin, r.Host)
}

// createRequest is the body of POST /v1/terminals; every field is optional.
type createRequest struct {
	ID   string `json:"id"`
	Cols int    `json:"cols"`
	Rows int    `json:"rows"`
}

func (m *Manager) create(w http.ResponseWriter, r *http.Request) {
	var req createRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		apijson.WriteError(w, http.StatusBadRequest, errcode.RequestInvalid, "malformed JSON body: "+err.Error(), "")
		return
	}
	t, err := m.Create(req.ID, Size{Cols: req.Cols, Rows: req.Rows})
	if err != nil {
		m.fail(w, err)
		return
	}
	apijson.Write(w, http.StatusCreated, t.Info())
}

func (m *Manager) get(w http.ResponseWriter, r *http.Request) {
	t, err := m.Get(r.PathValue("id"))
	if err != nil {
		m.fail(w, err)
		return
	}
	apijson.Write(w, http.StatusOK, t.Info())
}

func (m *Manager) remove(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if err := m.Remove(ctx, r.PathValue("id")); err != nil {
		m.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// control is a text message: from the client, a resize; from the server,
// the exit.
type control struct {
	Type     string `json:"type"`
	Cols     int    `json:"cols,omitempty"`
	Rows     int    `json:"rows,omitempty"`
	ExitCode *int   `json:"exit_code,omitempty"`
	Signal   string `json:"signal,omitempty"`
}

// closeError ends a connection with a WebSocket status.
type closeError struct {
	status websocket.StatusCode
	reason string
}

func (e closeError) Error() string { return e.reason }

// attach upgrades to a WebSocket: the replay buffer first, then live
// output as binary messages; binary messages from the client are input,
// text messages are control.
func (m *Manager) attach(w http.ResponseWriter, r *http.Request) {
	t, err := m.Get(r.PathValue("id"))
	if err != nil {
		m.fail(w, err)
		return
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		m.fail(w, ErrClosed)
		return
	}
	m.clients.Add(1)
	m.mu.Unlock()
	defer m.clients.Done()
	if err := t.attach(m.opts.Limits.MaxClients); err != nil {
		m.fail(w, err)
		return
	}
	defer t.detach()
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		// The Origin was checked by Handler, with a coded answer.
		InsecureSkipVerify: true,
		// A flood compressed per client would cost CPU and a window each.
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return // Accept answered the client
	}
	defer conn.CloseNow()
	conn.SetReadLimit(m.opts.Limits.MaxFrameBytes)

	// Not the request's context: a hijacked connection's ends with nothing.
	// Cancelling ctx tears the connection down (the library closes it under
	// a Read or Write whose context ends), so it is cancelled only once the
	// close handshake is done; the writer learns of the reader's end from
	// readDone instead, and a write in flight finishes or times out.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	defer cancel()
	readDone := make(chan struct{})
	var rerr error
	go func() { rerr = m.readInput(ctx, conn, t); close(readDone) }()
	werr := m.writeOutput(ctx, conn, t, readDone)
	var ce closeError
	switch {
	case errors.As(werr, &ce):
	case errors.Is(werr, errReaderDone):
		if !errors.As(rerr, &ce) {
			ce = closeError{} // the client went away or closed; nothing to say
		}
	default:
		m.opts.Log.Info("terminal client dropped", slog.String("id", t.id), slog.String("reason", werr.Error()))
	}
	if ce.status != 0 {
		_ = conn.Close(ce.status, ce.reason)
	}
	cancel()
	<-readDone
}

// errReaderDone ends writeOutput when the client's side has ended.
var errReaderDone = errors.New("the client's reader ended")

// readInput hands binary messages to the shell and applies control
// messages until the connection ends or a message breaks the protocol.
func (m *Manager) readInput(ctx context.Context, conn *websocket.Conn, t *Terminal) error {
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return err // the library already closed with 1009 on an oversized message
		}
		switch typ {
		case websocket.MessageBinary:
			if len(data) == 0 {
				continue
			}
			if m.opts.Activity != nil {
				m.opts.Activity.Touch("terminal.input")
			}
			if err := t.Write(data); err != nil && !errors.Is(err, ErrExited) {
				return closeError{websocket.StatusTryAgainLater, err.Error()}
			}
		case websocket.MessageText:
			var c control
			dec := json.NewDecoder(strings.NewReader(string(data)))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&c); err != nil || c.Type != "resize" {
				return closeError{websocket.StatusPolicyViolation, `bad control message: want {"type":"resize","cols":N,"rows":N}`}
			}
			if err := t.Resize(Size{Cols: c.Cols, Rows: c.Rows}); err != nil && !errors.Is(err, ErrExited) {
				return closeError{websocket.StatusPolicyViolation, err.Error()}
			}
		}
	}
}

// maxMessage is the most output one message carries: 32 KiB, the default
// read limit of common WebSocket clients (coder/websocket, gorilla).
const maxMessage = 32 << 10

// writeOutput sends the replay buffer, then output as it comes, then the
// exit. A client that takes nothing for the write timeout is dropped;
// output meanwhile goes into the buffer, never to a queue of its own.
func (m *Manager) writeOutput(ctx context.Context, conn *websocket.Conn, t *Terminal, readDone <-chan struct{}) error {
	ping := time.NewTicker(m.opts.Limits.PingInterval)
	defer ping.Stop()
	var from uint64
	msg := make([]byte, 0, maxMessage)
	for {
		events, next, done, grown := t.buf.Read(from)
		from = next
		for _, e := range events {
			switch e.Kind {
			case session.KindStdout:
				if len(msg)+len(e.Data) > maxMessage && len(msg) > 0 {
					if err := m.send(ctx, conn, websocket.MessageBinary, msg); err != nil {
						return err
					}
					msg = msg[:0]
				}
				msg = append(msg, e.Data...)
			case session.KindExit:
				if len(msg) > 0 {
					if err := m.send(ctx, conn, websocket.MessageBinary, msg); err != nil {
						return err
					}
					msg = msg[:0]
				}
				code := e.Exit.Code
				js, _ := json.Marshal(control{Type: "exit", ExitCode: &code, Signal: e.Exit.Signal})
				if err := m.send(ctx, conn, websocket.MessageText, js); err != nil {
					return err
				}
			}
		}
		if len(msg) > 0 {
			if err := m.send(ctx, conn, websocket.MessageBinary, msg); err != nil {
				return err
			}
			msg = msg[:0]
		}
		if done {
			return closeError{websocket.StatusNormalClosure, "terminal exited"}
		}
		select {
		case <-grown:
		case <-readDone:
			return errReaderDone
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, m.opts.Limits.WriteTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		}
	}
}

func (m *Manager) send(ctx context.Context, conn *websocket.Conn, typ websocket.MessageType, b []byte) error {
	wctx, cancel := context.WithTimeout(ctx, m.opts.Limits.WriteTimeout)
	defer cancel()
	if err := conn.Write(wctx, typ, b); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// answers is the domain error → status and code table.
var answers = apijson.Errors{
	{Err: ErrNotFound, Status: http.StatusNotFound, Code: errcode.TerminalNotFound, Field: "id"},
	{Err: ErrIDInvalid, Status: http.StatusBadRequest, Code: errcode.TerminalIDInvalid, Field: "id"},
	{Err: ErrExists, Status: http.StatusConflict, Code: errcode.TerminalExists, Field: "id"},
	{Err: ErrSizeInvalid, Status: http.StatusBadRequest, Code: errcode.RequestInvalid, Field: "cols"},
	{Err: ErrLimit, Status: http.StatusTooManyRequests, Code: errcode.TerminalLimitReached},
	{Err: ErrClientLimit, Status: http.StatusTooManyRequests, Code: errcode.TerminalLimitReached},
	{Err: ErrClosed, Status: http.StatusServiceUnavailable, Code: errcode.Unavailable},
}

func (m *Manager) fail(w http.ResponseWriter, err error) {
	if !answers.Write(w, err, "") {
		m.opts.Log.Error("terminal request failed", slog.Any("error", err))
		apijson.WriteInternal(w)
	}
}
