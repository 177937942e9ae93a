package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"aileron.dev/services/workspace/activity"
	"aileron.dev/services/workspace/browser/cdp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// chromium is the real browser the tests drive; a host without it fails.
const chromium = "/usr/bin/chromium"

// harness is an in-process daemon over a real Chromium.
type harness struct {
	t    *testing.T
	sup  *Supervisor
	srv  *httptest.Server
	host string // the daemon's host:port
}

// testLimits are small enough to overflow in a test.
var testLimits = Limits{MaxMessageBytes: 1 << 20, MaxConns: 8, MessagesPerSecond: 1000, MaxBodyBytes: 1 << 16, WriteTimeout: 5 * time.Second}

func start(t *testing.T, proxy string) *harness {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		t.Fatalf("the browser tests need Chromium at %s: %v", chromium, err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	sup := NewSupervisor(Options{
		Binary: chromium, Proxy: proxy, DataDir: t.TempDir(), WindowSize: "1280,800", DiskCacheBytes: 16 << 20,
		CheckInterval: 250 * time.Millisecond, CheckTimeout: 2 * time.Second, StartTimeout: time.Minute,
		MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, Log: log,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sup.Run(ctx) }()
	srv := httptest.NewServer(NewServer(sup, testLimits, activity.New(), log).Handler())
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	h := &harness{t: t, sup: sup, srv: srv, host: strings.TrimPrefix(srv.URL, "http://")}
	h.awaitHealthy()
	return h
}

// with is the harness reporting to t (a subtest).
func (h *harness) with(t *testing.T) *harness {
	c := *h
	c.t = t
	return &c
}

func (h *harness) awaitHealthy() {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.status("GET", "/healthz", nil) == http.StatusOK }, time.Minute, 20*time.Millisecond)
}

// do sends a request to the daemon and decodes a JSON answer into out.
func (h *harness) do(method, path string, body any, out any) int {
	h.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, r)
	require.NoError(h.t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(h.t, json.NewDecoder(resp.Body).Decode(out), "%s %s", method, path)
	}
	return resp.StatusCode
}

func (h *harness) status(method, path string, body any) int {
	h.t.Helper()
	return h.do(method, path, body, nil)
}

// newTab opens url in a new tab through the API.
func (h *harness) newTab(url string) Tab {
	h.t.Helper()
	var tab Tab
	require.Equal(h.t, http.StatusCreated, h.do("POST", "/v1/tabs", map[string]string{"url": url}, &tab))
	require.NotEmpty(h.t, tab.ID)
	h.t.Cleanup(func() { _ = h.do("DELETE", "/v1/tabs/"+tab.ID, nil, nil) })
	return tab
}

// newWindow opens url in a new window (Target.createTarget), so it shows
// beside the other tabs instead of hiding them.
func (h *harness) newWindow(url string) Tab {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var version map[string]string
	require.Equal(h.t, http.StatusOK, h.do("GET", "/json/version", nil, &version))
	c, err := cdp.Dial(ctx, version["webSocketDebuggerUrl"], 1<<20)
	require.NoError(h.t, err)
	defer c.Close()
	var res struct {
		TargetID string `json:"targetId"`
	}
	require.NoError(h.t, c.Call(ctx, "Target.createTarget", map[string]any{"url": url, "newWindow": true}, &res))
	h.t.Cleanup(func() { _ = h.do("DELETE", "/v1/tabs/"+res.TargetID, nil, nil) })
	return Tab{ID: res.TargetID, URL: url}
}

// eval evaluates expr in a tab through the daemon's DevTools WebSocket.
func (h *harness) eval(tabID, expr string) string {
	h.t.Helper()
	v, err := h.tryEval(tabID, expr)
	require.NoError(h.t, err, expr)
	return v
}

// tryEval is eval that may fail (a page still loading has no context).
func (h *harness) tryEval(tabID, expr string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := cdp.Dial(ctx, "ws://"+h.host+"/devtools/page/"+tabID, 1<<20)
	if err != nil {
		return "", err
	}
	defer c.Close()
	var res struct {
		Result struct {
			Value any `json:"value"`
		} `json:"result"`
	}
	if err := c.Call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		return "", err
	}
	s, _ := res.Result.Value.(string)
	return s, nil
}

// awaitEval polls expr in a tab until it returns want.
func (h *harness) awaitEval(tabID, expr, want string) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := h.tryEval(tabID, expr)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: want %q, got %q (%v)", expr, want, got, err)
		}
		time.Sleep(50 * time.Millisecond) // the poll's interval, not a synchronisation
	}
}

// awaitClick waits for the click page in a tab to record one click at
// fx, fy (fractions of its viewport), give or take 2% (a preview scaled
// to its window rounds, and its layout may shift a few pixels).
func (h *harness) awaitClick(tabID string, fx, fy float64) {
	h.t.Helper()
	h.awaitEval(tabID, `document.title.replace(/ at .*/, "")`, "clicks:1")
	var got struct{ X, Y, W, H float64 }
	require.NoError(h.t, json.Unmarshal([]byte(h.eval(tabID,
		`(m => JSON.stringify({x: +m[1], y: +m[2], w: innerWidth, h: innerHeight}))(document.title.match(/at (\d+),(\d+)/))`)), &got))
	require.InDelta(h.t, fx*got.W, got.X, 0.02*got.W, "x")
	require.InDelta(h.t, fy*got.H, got.Y, 0.02*got.H, "y")
}

// pages serves the test pages.
func pages(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `<!doctype html><html><head><title>Hello</title></head><body><h1 id="h">served</h1></body></html>`)
	})
	mux.HandleFunc("/click", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `<!doctype html><html><head><title>clicks:0</title>
<style>body{margin:0;height:100vh;background:linear-gradient(45deg,#c33,#33c 50%,#3c3);font:32px serif}</style></head>
<body><p>Click anywhere. The quick brown fox jumps over the lazy dog 0123456789.</p>
<script>let n=0;document.addEventListener("click",e=>{n++;document.title="clicks:"+n+" at "+Math.round(e.clientX)+","+Math.round(e.clientY)});</script>
</body></html>`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}
