package canvas_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"aileron.dev/services/workspace/activity"
	"aileron.dev/services/workspace/apijson"
	"aileron.dev/services/workspace/canvas"
	"aileron.dev/services/workspace/files"
	"aileron.dev/services/workspace/runtimeapi"
	"aileron.dev/services/workspace/session"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// net/http keeps idle keep-alive connections of test clients.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// maxFileBytes is the canvas's cap in the tests.
const maxFileBytes = 64 << 10

// harness is a real runtime daemon API over a temporary workspace root and
// the canvas daemon in front of it, each on a loopback server.
type harness struct {
	t       *testing.T
	root    string
	runtime string // base URL of the runtime API
	rt      *httptest.Server
	url     string // base URL of the canvas
	client  *http.Client
}

// newHarness starts the runtime API and the canvas; a runtimeURL other
// than "" points the canvas elsewhere (at nothing, to test a dead runtime).
func newHarness(t *testing.T, runtimeURL string) *harness {
	t.Helper()
	root := t.TempDir()
	fsys, err := files.Open(root, files.Limits{MaxFileBytes: 1 << 20, MaxListEntries: 100, MaxDepth: 8})
	require.NoError(t, err)
	act := activity.New()
	sessions := session.NewManager(session.Limits{Max: 2, BufferBytes: 4 << 10}, nil, act)
	api := runtimeapi.New(runtimeapi.Limits{
		MaxExecs: 1, MaxBodyBytes: 64 << 10, ExecTimeout: time.Minute,
		MaxExecTimeout: time.Minute, StallTimeout: 10 * time.Second,
	}, fsys, sessions, act, nil, slog.New(slog.DiscardHandler))
	rt := httptest.NewServer(api.Handler())
	if runtimeURL == "" {
		runtimeURL = rt.URL
	}
	c, err := canvas.New(canvas.Options{RuntimeURL: runtimeURL, Dir: "canvas", MaxFileBytes: maxFileBytes, MaxClients: 4})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); c.Run(ctx) }()
	srv := httptest.NewServer(c.Handler())
	transport := &http.Transport{}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		transport.CloseIdleConnections()
		srv.Close()
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		require.NoError(t, sessions.Close(sctx))
		rt.Close()
		fsys.Close()
	})
	return &harness{t: t, root: root, runtime: rt.URL, rt: rt, url: srv.URL, client: &http.Client{
		Transport: transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// on is the harness reporting to t, for a subtest.
func (h *harness) on(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

// write puts content at the workspace path p through the runtime's files
// API, as the agent would.
func (h *harness) write(p, content string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPut, h.runtime+"/v1/files/content?parents=true&path="+p, strings.NewReader(content))
	require.NoError(h.t, err)
	resp, err := h.client.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(h.t, http.StatusOK, resp.StatusCode, "write %s: %s", p, b)
}

// get fetches the canvas path p (sent as it is, not cleaned).
func (h *harness) get(p string) (*http.Response, string) {
	h.t.Helper()
	return h.do(http.MethodGet, p)
}

func (h *harness) do(method, p string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+p, nil)
	require.NoError(h.t, err)
	resp, err := h.client.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	require.Equal(h.t, "nosniff", resp.Header.Get("X-Content-Type-Options"), "%s %s", method, p)
	return resp, string(b)
}

// refuse requires GET p to fail with status and code.
func (h *harness) refuse(p string, status int, code string) {
	h.t.Helper()
	resp, body := h.get(p)
	require.Equal(h.t, status, resp.StatusCode, "GET %s: %s", p, body)
	require.Equal(h.t, "application/json", resp.Header.Get("Content-Type"))
	var e apijson.ErrorBody
	require.NoError(h.t, json.Unmarshal([]byte(body), &e), body)
	require.Equal(h.t, code, string(e.Code), "GET %s: %s", p, body)
	require.NotEmpty(h.t, e.Message)
}

// status is the canvas's /v1/status.
type status struct {
	Runtime struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	} `json:"runtime"`
	Watch struct {
		OK bool `json:"ok"`
	} `json:"watch"`
	Clients    int    `json:"clients"`
	Generation uint64 `json:"generation"`
}

func (h *harness) status() status {
	h.t.Helper()
	resp, body := h.get("/v1/status")
	require.Equal(h.t, http.StatusOK, resp.StatusCode, body)
	var s status
	require.NoError(h.t, json.Unmarshal([]byte(body), &s), body)
	return s
}

// watching waits until the canvas follows the runtime's watch.
func (h *harness) watching() {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.status().Watch.OK }, 10*time.Second, 20*time.Millisecond,
		"the canvas never set its watch of the runtime")
}

// events opens the live-reload stream and returns its lines.
func (h *harness) events(query string) <-chan string {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url+"/_canvas/events"+query, nil)
	require.NoError(h.t, err)
	resp, err := h.client.Do(req)
	require.NoError(h.t, err)
	require.Equal(h.t, http.StatusOK, resp.StatusCode)
	require.Equal(h.t, "text/event-stream", resp.Header.Get("Content-Type"))
	lines := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	h.t.Cleanup(func() { cancel(); resp.Body.Close(); <-done })
	return lines
}

// changeFor waits for a change event naming one of paths, skipping others
// (an earlier write's may still be on its way), and returns its generation.
func changeFor(t *testing.T, lines <-chan string, paths ...string) uint64 {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var ev struct {
			Generation uint64 `json:"generation"`
			Path       string `json:"path"`
		}
		require.NoError(t, json.Unmarshal([]byte(nextEvent(t, lines, "change")), &ev))
		if slices.Contains(paths, ev.Path) {
			return ev.Generation
		}
	}
	t.Fatalf("no change event for %q within the deadline", paths)
	return 0
}

// nextEvent returns the data of the next event named name on lines,
// failing after a deadline.
func nextEvent(t *testing.T, lines <-chan string, name string) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	want := "event: " + name
	seen := false
	for {
		select {
		case l, ok := <-lines:
			require.True(t, ok, "the event stream ended")
			if l == want {
				seen = true
			} else if seen && strings.HasPrefix(l, "data: ") {
				return strings.TrimPrefix(l, "data: ")
			}
		case <-deadline:
			t.Fatalf("no %s event within the deadline", name)
		}
	}
}
