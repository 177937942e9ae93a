package runtimeapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/workspace"
)

// previewGet sends a preview request for port to the daemon, as the front
// door does, with the browser's Host.
func (h *harness) previewGet(port string) *http.Response {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.url+"/some/page?q=1", nil)
	require.NoError(h.t, err)
	req.Host = port + "--abc.localhost:3001"
	req.Header.Set(workspace.PreviewPortHeader, port)
	resp, err := h.client.Do(req)
	require.NoError(h.t, err)
	return resp
}

func TestPreview(t *testing.T) {
	h := newHarness(t)
	// A dev server in the workspace: the test's loopback is the daemon's.
	type seen struct{ host, uri, header string }
	got := make(chan seen, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
			if err != nil {
				return
			}
			defer c.CloseNow()
			typ, b, err := c.Read(r.Context())
			if err == nil {
				_ = c.Write(r.Context(), typ, append([]byte("echo:"), b...))
			}
			return
		}
		got <- seen{r.Host, r.RequestURI, r.Header.Get(workspace.PreviewPortHeader)}
		_, _ = io.WriteString(w, "hello from the dev server")
	}))
	defer app.Close()
	port := strconv.Itoa(app.Listener.Addr().(*net.TCPAddr).Port)

	resp := h.previewGet(port)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.Equal(t, "hello from the dev server", string(body))
	s := <-got
	require.Equal(t, seen{host: port + "--abc.localhost:3001", uri: "/some/page?q=1"}, s,
		"the server sees the browser's host and path, and not the front door's header")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hdr := http.Header{workspace.PreviewPortHeader: {port}}
	c, _, err := websocket.Dial(ctx, h.url+"/ws", &websocket.DialOptions{HTTPHeader: hdr, Host: port + "--abc.localhost"})
	require.NoError(t, err, "a WebSocket passes through a preview")
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte("hi")))
	_, b, err := c.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, "echo:hi", string(b))
	c.Close(websocket.StatusNormalClosure, "")

	require.True(t, h.act.Snapshot().Last.IsZero(), "a preview is not activity: a page polling its dev server must not keep the workspace awake")
}

func TestPreviewRefusals(t *testing.T) {
	h := newHarness(t)
	// A port nothing listens on: take one, then free it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	free := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	require.NoError(t, ln.Close())

	daemon := httptest.NewServer(http.NotFoundHandler())
	defer daemon.Close()
	denied := daemon.Listener.Addr().(*net.TCPAddr).Port
	h.api.WithPreviewDeny(uint16(denied))

	for _, c := range []struct {
		port   string
		status int
		code   string
	}{
		{"0", 400, "PREVIEW_PORT_INVALID"},
		{"65536", 400, "PREVIEW_PORT_INVALID"},
		{"http", 400, "PREVIEW_PORT_INVALID"},
		{"", 400, "PREVIEW_PORT_INVALID"},
		{strconv.Itoa(denied), 403, "PREVIEW_PORT_REFUSED"},
		{free, 502, "PREVIEW_PORT_NOT_LISTENING"},
	} {
		resp := h.previewGet(c.port)
		var e errorBody
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e), "port %q", c.port)
		resp.Body.Close()
		require.Equal(t, c.status, resp.StatusCode, "port %q: %+v", c.port, e)
		require.Equal(t, c.code, e.Code, "port %q", c.port)
		require.NotEmpty(t, e.Message)
	}
}
