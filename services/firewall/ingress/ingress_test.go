package ingress_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/net/websocket"

	"aileron.dev/pkg/frontdoor"
	"aileron.dev/services/firewall/ingress"
)

// secret is the ingress secret of the test gateways.
const secret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseRoute(t *testing.T) {
	r, err := ingress.ParseRoute("/runtime=runtime:8080")
	require.NoError(t, err)
	require.Equal(t, "/runtime/", r.Prefix)
	require.Equal(t, "http://runtime:8080", r.Target.String())

	r, err = ingress.ParseRoute("/cdp/=http://browser:9222/base")
	require.NoError(t, err)
	require.Equal(t, "/cdp/", r.Prefix)
	require.Equal(t, "/base", r.Target.Path)

	for _, bad := range []string{"", "runtime:8080", "/x", "/x=", "x=runtime:8080", "/x=ftp://h:1", "/x=http://h:1/?q=1", "/x=http://"} {
		_, err := ingress.ParseRoute(bad)
		require.ErrorIs(t, err, ingress.ErrInvalidRoute, bad)
	}
}

func backend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/ws", websocket.Handler(func(c *websocket.Conn) {
		_, _ = io.Copy(c, c) // echo
	}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s prefix=%s", name, r.URL.RequestURI(), r.Header.Get("X-Forwarded-Prefix"))
		if _, ok := r.Header[http.CanonicalHeaderKey(ingress.Header)]; ok {
			fmt.Fprint(w, " LEAKED THE INGRESS SECRET")
		}
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func gateway(t *testing.T, routes ...string) *httptest.Server {
	t.Helper()
	s, h := gatewayHandler(t, routes...)
	h.SetSecret(secret)
	return s
}

// gatewayHandler is a gateway whose handler has no secret yet.
func gatewayHandler(t *testing.T, routes ...string) (*httptest.Server, *ingress.Handler) {
	t.Helper()
	var rs []ingress.Route
	for _, s := range routes {
		r, err := ingress.ParseRoute(s)
		require.NoError(t, err)
		rs = append(rs, r)
	}
	h, err := ingress.NewHandler(rs, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s, h
}

// get GETs url through the gateway as the front door does, with the secret.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	return getWith(t, url, secret)
}

// getWith GETs url with the given Header values (none for no header).
func getWith(t *testing.T, url string, secrets ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for _, s := range secrets {
		req.Header.Add(ingress.Header, s)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestRouting(t *testing.T) {
	runtime, terminal, nested := backend(t, "runtime"), backend(t, "terminal"), backend(t, "nested")
	gw := gateway(t,
		"/runtime/="+strings.TrimPrefix(runtime.URL, "http://"),
		"/terminal/="+terminal.URL,
		"/runtime/deep/="+nested.URL,
	)
	defer http.DefaultClient.CloseIdleConnections()
	tests := []struct {
		path, want string
		status     int
	}{
		{"/runtime/api/v1?x=1", "runtime /api/v1?x=1 prefix=/runtime", 200},
		{"/runtime", "runtime / prefix=/runtime", 200},
		{"/runtime/", "runtime / prefix=/runtime", 200},
		{"/terminal/session/3", "terminal /session/3 prefix=/terminal", 200},
		{"/runtime/deep/x", "nested /x prefix=/runtime/deep", 200},
		{"/runtime/a%2Fb", "runtime /a%2Fb prefix=/runtime", 200},
		{"/runtimex", "404 page not found\n", 404},
		{"/other/", "404 page not found\n", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			status, body := get(t, gw.URL+tt.path)
			require.Equal(t, tt.status, status)
			require.Equal(t, tt.want, body)
		})
	}
}

// The service sees the Host the request came with, so a service that checks
// Origin against Host (the terminal) accepts its own front-door origin.
func TestKeepsHost(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.Host) }))
	t.Cleanup(upstream.Close)
	gw := gateway(t, "/terminal/="+upstream.URL)
	defer http.DefaultClient.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, gw.URL+"/terminal/", nil)
	require.NoError(t, err)
	req.Host = "terminal--abc.localhost:3001"
	req.Header.Set(ingress.Header, secret)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "terminal--abc.localhost:3001", string(b))
}

func TestUpstreamDown(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	addr := down.URL
	down.Close()
	gw := gateway(t, "/canvas/="+addr)
	defer http.DefaultClient.CloseIdleConnections()
	status, _ := get(t, gw.URL+"/canvas/")
	require.Equal(t, http.StatusBadGateway, status)
}

func TestDuplicatePrefix(t *testing.T) {
	r, err := ingress.ParseRoute("/a/=h:1")
	require.NoError(t, err)
	_, err = ingress.NewHandler([]ingress.Route{r, r}, slog.New(slog.DiscardHandler))
	require.ErrorIs(t, err, ingress.ErrInvalidRoute)
}

func TestWebSocket(t *testing.T) {
	runtime := backend(t, "runtime")
	gw := gateway(t, "/runtime/="+runtime.URL)
	wsURL := "ws" + strings.TrimPrefix(gw.URL, "http") + "/runtime/ws"
	cfg, err := websocket.NewConfig(wsURL, gw.URL)
	require.NoError(t, err)
	_, err = websocket.DialConfig(cfg)
	require.Error(t, err, "an upgrade without the secret is refused")
	cfg.Header.Set(ingress.Header, secret)
	c, err := websocket.DialConfig(cfg)
	require.NoError(t, err)
	defer c.Close()
	for _, msg := range []string{"hello", "through the gateway"} {
		require.NoError(t, websocket.Message.Send(c, msg))
		var got string
		require.NoError(t, websocket.Message.Receive(c, &got))
		require.Equal(t, msg, got)
	}
}

func TestHeaderIsTheFrontDoors(t *testing.T) {
	require.Equal(t, frontdoor.Header, ingress.Header)
	k := frontdoor.Key(make([]byte, 32))
	require.GreaterOrEqual(t, len(k.WorkspaceSecret("w")), ingress.MinSecretLen)
}

// TestRefusesWithoutTheSecret: only the exact secret, once, is admitted;
// every refusal is a bare 403 that reaches no service, and an admitted
// request reaches the service without the header (backend reports a leak).
func TestRefusesWithoutTheSecret(t *testing.T) {
	var seen atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		fmt.Fprintf(w, "headers=%d", len(r.Header.Values(ingress.Header)))
	}))
	t.Cleanup(upstream.Close)
	defer http.DefaultClient.CloseIdleConnections()
	gw, h := gatewayHandler(t, "/runtime/="+upstream.URL)

	for name, secrets := range map[string][]string{
		"no secret configured": {secret},
		"no header":            nil,
	} {
		status, body := getWith(t, gw.URL+"/runtime/x", secrets...)
		require.Equal(t, http.StatusForbidden, status, name)
		require.Empty(t, body, name)
	}
	h.SetSecret("short")
	status, _ := getWith(t, gw.URL+"/runtime/x", "short")
	require.Equal(t, http.StatusForbidden, status, "a secret shorter than MinSecretLen admits nothing")

	h.SetSecret(secret)
	other := frontdoor.Key(make([]byte, 32)).WorkspaceSecret("another-workspace")
	for name, secrets := range map[string][]string{
		"no header":           nil,
		"empty":               {""},
		"another workspace's": {other},
		"prefix of it":        {secret[:len(secret)-1]},
		"longer":              {secret + "0"},
		"twice":               {secret, secret},
		"wrong then right":    {other, secret},
	} {
		for _, path := range []string{"/runtime/x", "/nowhere"} {
			status, body := getWith(t, gw.URL+path, secrets...)
			require.Equal(t, http.StatusForbidden, status, "%s %s", name, path)
			require.Empty(t, body, "%s %s: a refusal says nothing", name, path)
		}
	}
	require.Zero(t, seen.Load(), "a refused request reached the service")

	status, body := getWith(t, gw.URL+"/runtime/x", secret)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "headers=0", body, "the service must never see the secret")
	require.EqualValues(t, 1, seen.Load())
	status, _ = getWith(t, gw.URL+"/nowhere", secret)
	require.Equal(t, http.StatusNotFound, status)

	h.SetSecret("")
	status, _ = getWith(t, gw.URL+"/runtime/x", secret)
	require.Equal(t, http.StatusForbidden, status, "clearing the secret refuses again")
}

// TestWatchSecretFile: a file written after start is picked up, a change
// replaces the secret, and a removed or emptied file refuses everything.
func TestWatchSecretFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ingress-secret")
	var mu sync.Mutex
	var current []string
	set := func(s string) { mu.Lock(); defer mu.Unlock(); current = append(current, s) }
	last := func() (string, int) {
		mu.Lock()
		defer mu.Unlock()
		if len(current) == 0 {
			return "<unset>", 0
		}
		return current[len(current)-1], len(current)
	}
	var logs bytes.Buffer
	var logMu sync.Mutex
	log := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); ingress.WatchSecretFile(ctx, path, 5*time.Millisecond, set, log) }()
	defer func() { cancel(); <-done }()

	s, _ := last()
	require.Eventually(t, func() bool { s, _ = last(); return s == "" }, 5*time.Second, 5*time.Millisecond, "missing file: refuse")
	require.NoError(t, os.WriteFile(path, []byte(secret+"\n"), 0o400))
	require.Eventually(t, func() bool { s, _ = last(); return s == secret }, 5*time.Second, 5*time.Millisecond, "written after start")

	other := strings.Repeat("f", 64)
	require.NoError(t, os.Chmod(path, 0o600))
	require.NoError(t, os.WriteFile(path, []byte(other), 0o600))
	require.Eventually(t, func() bool { s, _ = last(); return s == other }, 5*time.Second, 5*time.Millisecond, "changed")

	require.NoError(t, os.WriteFile(path, nil, 0o600))
	require.Eventually(t, func() bool { s, _ = last(); return s == "" }, 5*time.Second, 5*time.Millisecond, "emptied")
	require.NoError(t, os.WriteFile(path, []byte(secret), 0o600))
	require.Eventually(t, func() bool { s, _ = last(); return s == secret }, 5*time.Second, 5*time.Millisecond)
	require.NoError(t, os.Remove(path))
	require.Eventually(t, func() bool { s, _ = last(); return s == "" }, 5*time.Second, 5*time.Millisecond, "removed")

	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	require.NotContains(t, out, secret, "the secret is never logged")
	require.Equal(t, 1, strings.Count(out, "waiting for the ingress secret file"), "missing at start is waiting, said once: %s", out)
	require.Equal(t, 1, strings.Count(out, "no such file"), "a removed file is an error, logged once, not per poll: %s", out)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestPolicyDigest: the gateway tells a holder of the secret which policy
// it enforces, and nobody else; the path is the gateway's own, never a
// service's.
func TestPolicyDigest(t *testing.T) {
	var seen atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { seen.Add(1) }))
	t.Cleanup(upstream.Close)
	defer http.DefaultClient.CloseIdleConnections()
	gw, h := gatewayHandler(t, "/="+upstream.URL)
	h.SetSecret(secret)

	status, body := get(t, gw.URL+ingress.PolicyPath)
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"sha256": ""}`, body, "no policy in force yet")
	h.SetPolicyDigest("abc123")
	_, body = get(t, gw.URL+ingress.PolicyPath)
	require.JSONEq(t, `{"sha256": "abc123"}`, body)
	status, body = getWith(t, gw.URL+ingress.PolicyPath)
	require.Equal(t, http.StatusForbidden, status, "without the secret")
	require.Empty(t, body)
	require.Zero(t, seen.Load(), "the catch-all route never got the gateway's path")
}
