package terminalui_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"aileron.dev/services/workspace/internal/pagetest"
	"aileron.dev/services/workspace/terminal"
	"aileron.dev/services/workspace/terminalui"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// net/http keeps idle keep-alive connections of the default transport.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// daemon serves the page and the terminal API as the runtime daemon
// does, with real shells; xterm.js comes from Debian's packages.
func daemon(t *testing.T, o terminalui.Options) (*terminal.Manager, string) {
	t.Helper()
	mgr := terminal.NewManager(terminal.Options{
		Limits: terminal.Limits{Max: 4, MaxClients: 4, BufferBytes: 64 << 10, MaxFrameBytes: 64 << 10,
			WriteTimeout: 5 * time.Second, InputTimeout: 5 * time.Second},
		Dir:   t.TempDir(),
		Shell: "/bin/bash",
		// A home of its own: the login shell reads no profile of the machine's user.
		Env: []string{"HOME=" + t.TempDir(), "HISTFILE=/dev/null", "PS1=$ "},
	})
	mux := http.NewServeMux()
	mux.Handle("/v1/terminals", mgr.Handler())
	mux.Handle("/v1/terminals/", mgr.Handler())
	mux.Handle("/", terminalui.New(o).Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, mgr.Close(ctx))
		srv.Close()
	})
	return mgr, srv.URL
}

func installed() terminalui.Options {
	return terminalui.Options{XtermDir: terminalui.DefaultXtermDir, XtermModulesDir: terminalui.DefaultXtermModulesDir}
}

// eval returns the value of a JavaScript expression on the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	require.NoError(t, err, expr)
	return v
}

// screen is the text on the open tab's screen.
func screen(t *testing.T, ctx context.Context) string {
	return eval[string](t, ctx, `window.aileronTerminal ? aileronTerminal.text() : ""`)
}

// waitScreen waits for the screen to satisfy ok; on a timeout it reports
// the screen as it was last read, not as it was before the wait.
func waitScreen(t *testing.T, ctx context.Context, what string, ok func(screen string) bool) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.aileronTerminal ? aileronTerminal.text() : ""`))
		require.NoError(c, err)
		require.True(c, ok(v), "%s; screen: %q", what, v)
	}, 20*time.Second, 50*time.Millisecond)
}

func waitConnected(t *testing.T, ctx context.Context) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		type page struct {
			Connected bool
			Status    string
		}
		status, err := chromedp.Run(ctx, chromedp.Evaluate[page](`({connected: !!(window.aileronTerminal && aileronTerminal.connected()),
			status: (document.getElementById("status") || {}).textContent || ""})`))
		require.NoError(c, err)
		require.True(c, status.Connected, "the page never attached; status: %q", status.Status)
	}, 30*time.Second, 50*time.Millisecond)
}

func TestPageRunsAShellAndComesBackAfterAReload(t *testing.T) {
	mgr, url := daemon(t, installed())
	ctx := pagetest.Browser(t, pagetest.Options{Width: 1000, Height: 700})
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url+"/")))
	waitConnected(t, ctx)
	list := mgr.List()
	require.Len(t, list, 1, "the page opened one terminal")
	id := list[0].ID
	require.Equal(t, id, eval[string](t, ctx, `aileronTerminal.active()`))

	// The page fitted the terminal to the window and told the server.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		info := mgr.List()[0]
		size, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`aileronTerminal.size()`))
		require.NoError(c, err)
		require.Equal(c, []int{info.Cols, info.Rows}, size, "the server's size is not the page's")
		require.NotEqual(c, 80, info.Cols, "the page never fitted the terminal")
	}, 10*time.Second, 50*time.Millisecond)

	hello := regexp.MustCompile(`(?m)^hello\s*$`)
	require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(".xterm-helper-textarea"), "echo hello\r")))
	waitScreen(t, ctx, "no hello", hello.MatchString)
	require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(".xterm-helper-textarea"), "export MARK=$$\r")))

	// Reload: the same terminal, its earlier output replayed, the same shell.
	require.NoError(t, chromedp.Do(ctx, chromedp.Reload()))
	waitConnected(t, ctx)
	require.Equal(t, id, eval[string](t, ctx, `aileronTerminal.active()`))
	waitScreen(t, ctx, "the earlier output is not back", func(s string) bool {
		return strings.Contains(s, "echo hello") && hello.MatchString(s)
	})
	require.Len(t, mgr.List(), 1, "a reload opens no new terminal")
	require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(".xterm-helper-textarea"), "echo same-$MARK-$$\r")))
	same := regexp.MustCompile(`(?m)^same-(\d+)-(\d+)\s*$`)
	waitScreen(t, ctx, "not the same shell", func(s string) bool {
		m := same.FindStringSubmatch(s)
		return m != nil && m[1] == m[2]
	})

	// A lost connection is re-attached by itself; what the shell wrote
	// meanwhile is on the screen.
	require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(".xterm-helper-textarea"), "sleep 1; echo after-$((2*3))\r")))
	require.Eventually(t, func() bool { return mgr.List()[0].Clients == 1 }, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`aileronTerminal.drop()`)))
	require.Eventually(t, func() bool { return mgr.List()[0].Clients == 0 }, 10*time.Second, 5*time.Millisecond, "the page never dropped its connection")
	waitConnected(t, ctx)
	after := regexp.MustCompile(`(?m)^after-6\s*$`)
	waitScreen(t, ctx, "the output written while detached is not on the screen", after.MatchString)
	require.Equal(t, id, eval[string](t, ctx, `aileronTerminal.active()`))
	require.Len(t, mgr.List(), 1)

	// A second tab is a second terminal; closing it deletes it.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#new"))))
	require.Eventually(t, func() bool { return len(mgr.List()) == 2 }, 10*time.Second, 50*time.Millisecond)
	// The page switches to the new tab once its terminal is created: wait
	// for that, not just for a connection (the old one may still count).
	var second string
	require.Eventually(t, func() bool {
		second = eval[string](t, ctx, `aileronTerminal.active()`)
		return second != "" && second != id
	}, 10*time.Second, 20*time.Millisecond, "the page never switched to the new tab")
	waitConnected(t, ctx)
	require.NotContains(t, screen(t, ctx), "echo hello", "a new tab is a new screen")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.tab[data-id="`+id+`"]`))))
	require.Equal(t, id, eval[string](t, ctx, `aileronTerminal.active()`))
	require.Contains(t, screen(t, ctx), "echo hello")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`.tab[data-id="`+second+`"] .close`))))
	require.Eventually(t, func() bool { return len(mgr.List()) == 1 && mgr.List()[0].ID == id }, 10*time.Second, 50*time.Millisecond)
	require.Equal(t, 1, eval[int](t, ctx, `document.querySelectorAll(".tab").length`))

	// The shell's exit shows on the tab.
	require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(".xterm-helper-textarea"), "exit 3\r")))
	waitScreen(t, ctx, "no exit on the screen", func(s string) bool { return strings.Contains(s, "exited with code 3") })
}

func TestPageHeaders(t *testing.T) {
	_, url := daemon(t, installed())
	for _, p := range []string{"/", "/terminal-ui/app.js", "/terminal-ui/xterm.js", "/terminal-ui/xterm.css", "/terminal-ui/app.css"} {
		resp, err := http.Get(url + p)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, p)
		require.Equal(t, terminalui.CSP, resp.Header.Get("Content-Security-Policy"), p)
		require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"), p)
		if !strings.Contains(p, "xterm") { // xterm.js's comments name its authors' sites; CSP keeps it to this origin
			require.NotRegexp(t, `https?://`, string(body), p+": no third-party URL")
		}
		if p == "/" {
			require.NotRegexp(t, `<script>|<style|\sstyle=|\son[a-z]+=`, string(body), "no inline script or style")
		}
	}
}

func TestPageSaysXtermIsNotInstalled(t *testing.T) {
	_, url := daemon(t, terminalui.Options{XtermDir: t.TempDir(), XtermModulesDir: t.TempDir()})
	resp, err := http.Get(url + "/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Contains(t, string(body), "xterm.js is not installed")
	require.Contains(t, string(body), "XTERM_NOT_INSTALLED")

	resp, err = http.Get(url + "/terminal-ui/xterm.js")
	require.NoError(t, err)
	var e struct{ Code, Message string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "XTERM_NOT_INSTALLED", e.Code)
}
