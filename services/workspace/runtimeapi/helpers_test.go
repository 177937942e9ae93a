package runtimeapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"aileron.dev/services/workspace/activity"
	"aileron.dev/services/workspace/agent"
	"aileron.dev/services/workspace/files"
	"aileron.dev/services/workspace/runtimeapi"
	"aileron.dev/services/workspace/session"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness is the API on a loopback server over a temporary root, driven
// as a client would.
type harness struct {
	t      *testing.T
	url    string
	root   string
	client *http.Client
	act    *activity.Tracker
	api    *runtimeapi.Server
}

const maxFileBytes = 1 << 20

func newHarness(t *testing.T, tune ...func(*runtimeapi.Limits)) *harness {
	t.Helper()
	return newHarnessWith(t, nil, tune...)
}

// newHarnessWith is newHarness whose daemon knows agents (the default set
// when nil).
func newHarnessWith(t *testing.T, agents agent.Set, tune ...func(*runtimeapi.Limits)) *harness {
	t.Helper()
	root := t.TempDir()
	fsys, err := files.Open(root, files.Limits{MaxFileBytes: maxFileBytes, MaxListEntries: 100, MaxDepth: 8})
	require.NoError(t, err)
	act := activity.New()
	sessions := session.NewManager(session.Limits{Max: 4, BufferBytes: 64 << 10, InputTimeout: 300 * time.Millisecond}, nil, act)
	limits := runtimeapi.Limits{
		MaxExecs: 4, MaxBodyBytes: 64 << 10, ExecTimeout: 30 * time.Second,
		MaxExecTimeout: time.Minute, StallTimeout: 10 * time.Second,
	}
	for _, f := range tune {
		f(&limits)
	}
	api := runtimeapi.New(limits, fsys, sessions, act, nil, slog.New(slog.DiscardHandler))
	if agents != nil {
		api.WithAgents(agents)
	}
	srv := httptest.NewServer(api.Previews(api.Handler())) // as the daemon serves it
	transport := &http.Transport{}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, sessions.Close(ctx))
		transport.CloseIdleConnections()
		srv.Close()
		fsys.Close()
	})
	return &harness{t: t, url: srv.URL, root: root, client: &http.Client{Transport: transport}, act: act, api: api}
}

// do sends body (JSON unless it is an io.Reader) and returns the response.
func (h *harness) do(method, path string, body any) *http.Response {
	h.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case io.Reader:
		r = b
	case string:
		r = strings.NewReader(b)
	default:
		js, err := json.Marshal(b)
		require.NoError(h.t, err)
		r = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, h.url+path, r)
	require.NoError(h.t, err)
	resp, err := h.client.Do(req)
	require.NoError(h.t, err)
	return resp
}

// call sends body, requires status and decodes the answer into out (if not nil).
func (h *harness) call(method, path string, body any, status int, out any) {
	h.t.Helper()
	resp := h.do(method, path, body)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(h.t, status, resp.StatusCode, "%s %s: %s", method, path, b)
	if out != nil {
		require.NoError(h.t, json.Unmarshal(b, out), "%s", b)
	}
}

// errorBody is the API's error JSON.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

// refuse requires the call to fail with status and code.
func (h *harness) refuse(method, path string, body any, status int, code string) errorBody {
	h.t.Helper()
	var e errorBody
	h.call(method, path, body, status, &e)
	require.Equal(h.t, code, e.Code, "%s %s: %+v", method, path, e)
	require.NotEmpty(h.t, e.Message)
	return e
}

// event is any line of a stream.
type event struct {
	Type     string          `json:"type"`
	Seq      uint64          `json:"seq"`
	Data     string          `json:"data"`
	DataB64  string          `json:"data_b64"`
	ExitCode int             `json:"exit_code"`
	Signal   string          `json:"signal"`
	TimedOut bool            `json:"timed_out"`
	Lost     uint64          `json:"lost"`
	Exit     *event          `json:"exit"`
	Raw      json.RawMessage `json:"-"`
}

func (e event) bytes() string {
	if e.DataB64 != "" {
		b, _ := base64.StdEncoding.DecodeString(e.DataB64)
		return string(b)
	}
	return e.Data
}

// stream reads newline-delimited JSON events.
type stream struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

func (h *harness) stream(method, path string, body any) *stream {
	h.t.Helper()
	resp := h.do(method, path, body)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	require.Equal(h.t, "application/x-ndjson", resp.Header.Get("Content-Type"))
	s := &stream{t: h.t, resp: resp, r: bufio.NewReaderSize(resp.Body, 1<<16)}
	h.t.Cleanup(func() { resp.Body.Close() })
	return s
}

// next returns the next event, or false at the end of the stream.
func (s *stream) next() (event, bool) {
	line, err := s.r.ReadBytes('\n')
	if err == io.EOF && len(line) == 0 {
		return event{}, false
	}
	require.NoError(s.t, err)
	var e event
	require.NoError(s.t, json.Unmarshal(line, &e), "%s", line)
	return e, true
}

// result is a whole exec stream.
type result struct {
	stdout, stderr string
	exit           event
	exits          int
}

func (s *stream) all() result {
	var r result
	var stdout, stderr strings.Builder
	for {
		e, ok := s.next()
		if !ok {
			r.stdout, r.stderr = stdout.String(), stderr.String()
			return r
		}
		switch e.Type {
		case "stdout":
			stdout.WriteString(e.bytes())
		case "stderr":
			stderr.WriteString(e.bytes())
		case "exit":
			r.exit = e
			r.exits++
		default:
			s.t.Fatalf("unexpected event %+v", e)
		}
	}
}

func (s *stream) close() { s.resp.Body.Close() }
