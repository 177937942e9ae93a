package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/coder/websocket"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/apijson"
)

// devtoolsTimeout bounds one DevTools HTTP request to Chromium.
const devtoolsTimeout = 10 * time.Second

// devtoolsHTTP proxies Chromium's DevTools HTTP endpoints (/json/version,
// /json/list, /json/new, …) and rewrites the WebSocket URLs they hold to
// the daemon's public origin.
func (s *Server) devtoolsHTTP(w http.ResponseWriter, r *http.Request) {
	addr := s.upstream(w)
	if addr == "" {
		return
	}
	path := r.URL.Path
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	status, ctype, body, err := s.devtoolsGet(r.Context(), addr, r.Method, path)
	if err != nil {
		s.fail(w, err, "")
		return
	}
	if strings.HasPrefix(ctype, "application/json") {
		scheme, host := publicOrigin(r)
		body = rewriteURLs(body, addr, scheme, host)
	}
	if ctype != "" {
		w.Header().Set("Content-Type", ctype)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// devtoolsGet does one DevTools HTTP request (its method as Chromium
// wants it: PUT for /json/new) and reads at most MaxMessageBytes of the
// answer. Chromium dials with Host 127.0.0.1: it refuses any other name.
func (s *Server) devtoolsGet(ctx context.Context, addr, method, path string) (status int, ctype string, body []byte, err error) {
	ctx, cancel := context.WithTimeout(ctx, devtoolsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, nil)
	if err != nil {
		return 0, "", nil, err
	}
	resp, err := s.sup.client.Do(req)
	if err != nil {
		return 0, "", nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, s.limits.MaxMessageBytes))
	if err != nil {
		return 0, "", nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body, nil
}

// publicOrigin is the WebSocket scheme and host a client reaches the
// daemon at: the Host it sent (the front door keeps the browser's) and
// wss behind a front door that terminated TLS.
func publicOrigin(r *http.Request) (scheme, host string) {
	scheme = "ws"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "wss"
	}
	host = r.Host
	if host == "" {
		host = "localhost"
	}
	return scheme, host
}

// rewriteURLs points webSocketDebuggerUrl and devtoolsFrontendUrl of a
// DevTools JSON answer (an object or a list of them) at the public origin
// instead of Chromium's loopback addr. Anything else is left as it was.
func rewriteURLs(body []byte, addr, scheme, host string) []byte {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return body
	}
	fix := func(o any) {
		m, ok := o.(map[string]any)
		if !ok {
			return
		}
		if u, ok := m["webSocketDebuggerUrl"].(string); ok {
			m["webSocketDebuggerUrl"] = strings.Replace(u, "ws://"+addr, scheme+"://"+host, 1)
		}
		if u, ok := m["devtoolsFrontendUrl"].(string); ok {
			m["devtoolsFrontendUrl"] = strings.Replace(u, "ws="+addr, scheme+"="+host, 1)
		}
	}
	if list, ok := v.([]any); ok {
		for _, o := range list {
			fix(o)
		}
	} else {
		fix(v)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "   ")
	if enc.Encode(v) != nil {
		return body
	}
	return b.Bytes()
}

// devtoolsWS proxies a DevTools WebSocket (/devtools/browser/<id> or
// /devtools/page/<id>) message by message to Chromium, so CDP clients
// (Playwright's connectOverCDP, Puppeteer, chromedp) use the public URL
// unchanged. Each client's messages are checked (JSON objects with an id
// and a method), paced, and capped in size; nothing is queued: a message
// is read only once the one before it was written.
func (s *Server) devtoolsWS(w http.ResponseWriter, r *http.Request) {
	if k := r.PathValue("kind"); k != "browser" && k != "page" {
		apijson.WriteError(w, http.StatusNotFound, errcode.RouteNotFound, "no route "+r.Method+" "+r.URL.Path, "")
		return
	}
	addr := s.upstream(w)
	if addr == "" {
		return
	}
	release, ok := s.acquire(w)
	if !ok {
		return
	}
	defer release()
	dctx, cancel := context.WithTimeout(r.Context(), devtoolsTimeout)
	up, resp, err := websocket.Dial(dctx, "ws://"+addr+r.URL.Path, &websocket.DialOptions{HTTPClient: s.sup.client})
	cancel()
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			apijson.WriteError(w, http.StatusNotFound, errcode.BrowserTabNotFound, "no DevTools target at "+r.URL.Path, "")
			return
		}
		s.fail(w, fmt.Errorf("%w: %v", ErrUnavailable, err), "")
		return
	}
	defer up.CloseNow()
	up.SetReadLimit(s.limits.MaxMessageBytes)
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return // Accept answered the client
	}
	defer c.CloseNow()
	c.SetReadLimit(s.limits.MaxMessageBytes)

	ctx, stop := context.WithCancel(r.Context())
	defer stop()
	errc := make(chan error, 2)
	go func() { errc <- s.clientToChromium(ctx, c, up) }()
	go func() { errc <- s.pipe(ctx, up, c) }()
	err = <-errc
	stop()
	var ce websocket.CloseError
	switch {
	case errors.As(err, &ce):
		// One side closed (or overflowed): the other gets the same status.
		_ = c.Close(ce.Code, ce.Reason)
		_ = up.Close(websocket.StatusNormalClosure, "")
	default:
		_ = c.Close(websocket.StatusGoingAway, "devtools connection ended")
	}
	<-errc
}

// pipe copies messages from src to dst until one side fails.
func (s *Server) pipe(ctx context.Context, src, dst *websocket.Conn) error {
	for {
		typ, b, err := src.Read(ctx)
		if err != nil {
			return err
		}
		if err := s.write(ctx, dst, typ, b); err != nil {
			return err
		}
	}
}

// clientToChromium copies a client's messages to Chromium, paced, and
// answers a malformed one itself instead of passing it on.
func (s *Server) clientToChromium(ctx context.Context, c, up *websocket.Conn) error {
	p := newPacer(s.limits.MessagesPerSecond)
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			return err
		}
		if err := p.wait(ctx); err != nil {
			return err
		}
		if reply := checkMessage(typ, b); reply != nil {
			if err := s.write(ctx, c, websocket.MessageText, reply); err != nil {
				return err
			}
			continue
		}
		s.activity.Touch("browser.devtools")
		if err := s.write(ctx, up, typ, b); err != nil {
			return err
		}
	}
}

func (s *Server) write(ctx context.Context, c *websocket.Conn, typ websocket.MessageType, b []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.limits.WriteTimeout)
	defer cancel()
	return c.Write(ctx, typ, b)
}

// checkMessage returns nil for a well-formed CDP command (a JSON text
// object with a numeric id and a method) or the JSON-RPC error to answer.
func checkMessage(typ websocket.MessageType, b []byte) []byte {
	var m struct {
		ID     *json.Number `json:"id"`
		Method string       `json:"method"`
	}
	msg := ""
	switch {
	case typ != websocket.MessageText:
		msg = "a DevTools message is JSON text"
	case json.Unmarshal(b, &m) != nil:
		msg = "not a JSON object"
	case m.ID == nil:
		msg = "no id"
	case m.Method == "":
		msg = "no method"
	}
	if msg == "" {
		if _, err := m.ID.Int64(); err != nil {
			msg = "id is not an integer"
		}
	}
	if msg == "" {
		return nil
	}
	reply := map[string]any{"error": map[string]any{"code": -32600, "message": "invalid request: " + msg}}
	if m.ID != nil {
		reply["id"] = m.ID
	}
	out, _ := json.Marshal(reply)
	return out
}

// pacer delays messages beyond a rate, with a burst of as many as one
// second allows (a generic cell rate: tat is when the next message would
// be due at the steady rate).
type pacer struct {
	every time.Duration
	burst time.Duration
	tat   time.Time
}

func newPacer(perSecond int) *pacer {
	every := time.Second / time.Duration(perSecond)
	return &pacer{every: every, burst: time.Duration(perSecond-1) * every}
}

func (p *pacer) wait(ctx context.Context) error {
	now := time.Now()
	tat := p.tat
	if tat.Before(now) {
		tat = now
	}
	p.tat = tat.Add(p.every)
	d := tat.Sub(now) - p.burst
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
