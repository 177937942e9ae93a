package terminal_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"aileron.dev/services/workspace/activity"
	"aileron.dev/services/workspace/terminal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness is the terminal API on a loopback server, driven as a browser
// would.
type harness struct {
	t      *testing.T
	url    string
	mgr    *terminal.Manager
	act    *activity.Tracker
	client *http.Client
}

const maxFrame = 4 << 10

func newHarness(t *testing.T, tune ...func(*terminal.Options)) *harness {
	t.Helper()
	act := activity.New()
	opts := terminal.Options{
		Limits: terminal.Limits{
			Max: 3, MaxClients: 2, BufferBytes: 64 << 10, MaxFrameBytes: maxFrame,
			WriteTimeout: 500 * time.Millisecond, InputTimeout: time.Second,
		},
		Dir: t.TempDir(),
		// A home of its own: the login shell reads no profile of the machine's user.
		Env:      []string{"HOME=" + t.TempDir(), "HISTFILE=/dev/null"},
		Activity: act,
	}
	for _, f := range tune {
		f(&opts)
	}
	mgr := terminal.NewManager(opts)
	srv := httptest.NewServer(mgr.Handler())
	transport := &http.Transport{}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, mgr.Close(ctx))
		transport.CloseIdleConnections()
		srv.Close()
	})
	return &harness{t: t, url: srv.URL, mgr: mgr, act: act, client: &http.Client{Transport: transport}}
}

// do sends a JSON body and decodes the answer into out (if not nil).
func (h *harness) do(method, path, body string, out any) int {
	h.t.Helper()
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(body))
	require.NoError(h.t, err)
	resp, err := h.client.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(h.t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

func (h *harness) create(id string) terminal.Info {
	h.t.Helper()
	var info terminal.Info
	require.Equal(h.t, http.StatusCreated, h.do("POST", "/v1/terminals", `{"id":"`+id+`"}`, &info))
	return info
}

func (h *harness) info(id string) terminal.Info {
	h.t.Helper()
	var info terminal.Info
	require.Equal(h.t, http.StatusOK, h.do("GET", "/v1/terminals/"+id, "", &info))
	return info
}

// waitDetached waits until no client is attached to id.
func (h *harness) waitDetached(id string) {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.info(id).Clients == 0 }, 5*time.Second, 20*time.Millisecond)
}

// dial opens the WebSocket of terminal id with header.
func (h *harness) dial(id string, header http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(h.url, "http")+"/v1/terminals/"+id+"/attach",
		&websocket.DialOptions{HTTPClient: h.client, HTTPHeader: header})
}

// client is an attached terminal that keeps the tail of its output.
type client struct {
	t      *testing.T
	conn   *websocket.Conn
	mu     sync.Mutex
	out    []byte
	texts  []string
	err    error
	closed chan struct{}
}

const keepTail = 256 << 10

// attach connects to id and reads everything it is sent.
func (h *harness) attach(id string) *client {
	h.t.Helper()
	conn, _, err := h.dial(id, nil)
	require.NoError(h.t, err)
	c := &client{t: h.t, conn: conn, closed: make(chan struct{})}
	go c.read()
	h.t.Cleanup(c.close)
	return c
}

func (c *client) read() {
	defer close(c.closed)
	for {
		typ, data, err := c.conn.Read(context.Background())
		c.mu.Lock()
		if err != nil {
			c.err = err
			c.mu.Unlock()
			return
		}
		if typ == websocket.MessageText {
			c.texts = append(c.texts, string(data))
		} else {
			c.out = append(c.out, data...)
			if len(c.out) > keepTail {
				c.out = append([]byte(nil), c.out[len(c.out)-keepTail:]...)
			}
		}
		c.mu.Unlock()
	}
}

func (c *client) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.out)
}

func (c *client) send(s string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(c.t, c.conn.Write(ctx, websocket.MessageBinary, []byte(s)))
}

func (c *client) control(js string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(c.t, c.conn.Write(ctx, websocket.MessageText, []byte(js)))
}

// waitFor waits until the output holds s.
func (c *client) waitFor(s string) {
	c.t.Helper()
	require.EventuallyWithT(c.t, func(ct *assert.CollectT) {
		out := c.output()
		require.True(ct, strings.Contains(out, s), "output never held %q; tail: %q", s, tail(out))
	}, 10*time.Second, 20*time.Millisecond)
}

// closeStatus waits for the connection to end and returns its close status.
func (c *client) closeStatus() websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.closed:
	case <-time.After(10 * time.Second):
		c.t.Fatal("connection did not end")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return websocket.CloseStatus(c.err)
}

func (c *client) close() {
	_ = c.conn.Close(websocket.StatusNormalClosure, "")
	<-c.closed
}

func tail(s string) string {
	if len(s) > 300 {
		return s[len(s)-300:]
	}
	return s
}
