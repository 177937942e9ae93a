package ingress_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"golang.org/x/net/websocket"

	"aileron.dev/services/firewall/ingress"
)

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
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func gateway(t *testing.T, routes ...string) *httptest.Server {
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
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
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
	c, err := websocket.Dial(wsURL, "", gw.URL)
	require.NoError(t, err)
	defer c.Close()
	for _, msg := range []string{"hello", "through the gateway"} {
		require.NoError(t, websocket.Message.Send(c, msg))
		var got string
		require.NoError(t, websocket.Message.Receive(c, &got))
		require.Equal(t, msg, got)
	}
}
