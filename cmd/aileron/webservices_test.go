package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runCLI runs the CLI against aileron dev and returns its stdout; it fails
// the test on a non-zero exit.
func runCLI(t *testing.T, base string, args ...string) string {
	t.Helper()
	out, errOut := &syncBuffer{}, &syncBuffer{}
	args = append(args, "--api", base) // flags go anywhere among the arguments
	code := run(context.Background(), args, strings.NewReader(""), out, errOut)
	require.Equal(t, 0, code, "aileron %s: %s", strings.Join(args, " "), errOut.String())
	return out.String()
}

// openLink asks the API for a one-time link to a service of workspace id.
func openLink(t *testing.T, base, id, service string) string {
	t.Helper()
	resp, err := http.Post(base+"/api/v1/workspaces/"+id+"/services/"+service+":open", "application/json", strings.NewReader(`{}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	var link struct{ URL string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&link))
	require.NotEmpty(t, link.URL)
	return link.URL
}

// loopback returns u with its host, a *.localhost name, replaced by
// 127.0.0.1: browsers resolve *.localhost to loopback themselves, and Go's
// resolver leaves it to the system, which need not.
func loopback(t testing.TB, u string) string {
	t.Helper()
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	require.True(t, strings.HasSuffix(parsed.Hostname(), ".localhost"), u)
	parsed.Host = "127.0.0.1:" + parsed.Port()
	return parsed.String()
}

// frontDoorHeader is what a CDP client sends to the front door's URL u
// dialed on loopback: the name it asked for and the CLI's token.
func frontDoorHeader(u string) http.Header {
	parsed, _ := url.Parse(u)
	return http.Header{"Host": {parsed.Host}, "Authorization": {"Bearer dev"}}
}

// testDevBrowser: the real browser image behind the front door. A CDP
// client connects to the URL the CLI prints (with the CLI's token) and
// drives Chromium; the CLI's screenshot is a PNG of that page; the agent in
// the runtime reaches the browser's DevTools at $AILERON_BROWSER_URL.
func testDevBrowser(t *testing.T, base, id string, rt serviceDoor) {
	port := base[strings.LastIndex(base, ":")+1:]
	ws := strings.TrimSpace(runCLI(t, base, "workspace", "browser", id, "--cdp-url"))
	require.True(t, strings.HasPrefix(ws, "ws://browser--"+id+".localhost:"+port+"/devtools/browser/"), "the CDP URL is the front door's: %s", ws)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alloc, cancelAlloc := remote.NewAllocator(ctx, loopback(t, ws), remote.NoModifyURL, remote.WithDialHTTPHeader(frontDoorHeader(ws)))
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	page := `data:text/html,<title>driven</title><h1 style="font-size:80px">driven through the front door</h1>`
	require.NoError(t, chromedp.Do(tab, chromedp.Navigate(page)))
	title, err := chromedp.Run(tab, chromedp.Title())
	require.NoError(t, err)
	require.Equal(t, "driven", title)

	// The console: the workspace page's Browser button opens the live
	// preview, which draws frames of the page the agent opened and lists
	// its tab.
	console := headlessChromium(t)
	require.NoError(t, chromedp.Do(console, chromedp.Navigate(base+"/workspaces/"+id)))
	_, err = chromedp.Run(console, chromedp.Poll[bool](`(b => b && !b.disabled)(document.querySelector('#action-browser'))`,
		chromedp.WithPollingTimeout(time.Minute)))
	require.NoError(t, err, "the console's Browser button never became usable")
	opened := chromedp.WaitNewTarget(console, serviceTab("browser", id))
	require.NoError(t, chromedp.Do(console, chromedp.Click(chromedp.CSS(`#action-browser`))))
	previewTab, ok := <-opened
	require.True(t, ok, "the Browser button opened no tab")
	preview, cancelPreview := chromedp.NewContext(console, chromedp.WithTargetID(previewTab))
	defer cancelPreview()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		shown, err := chromedp.Run(preview, chromedp.Evaluate[string](`(() => {
			const c = document.getElementById('screen'), tabs = document.getElementById('tabs');
			if (!c || !tabs || c.width <= 300) return 'no frame yet';
			const px = c.getContext('2d').getImageData(c.width / 2, c.height / 4, 1, 1).data;
			return [document.getElementById('state').textContent, px[3], tabs.innerText].join('|');
		})()`))
		require.NoError(c, err)
		require.True(c, strings.HasPrefix(shown, "live|255|") && strings.Contains(shown, "driven"),
			"the preview never showed a frame of the agent's page: %q", shown)
	}, time.Minute, 200*time.Millisecond)

	file := filepath.Join(t.TempDir(), "shot.png")
	runCLI(t, base, "workspace", "screenshot", id, "-o", file)
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(data))
	require.NoError(t, err, "the screenshot is a PNG")
	require.Greater(t, img.Bounds().Dx(), 100)

	// The agent's route: the runtime reaches the browser's DevTools
	// discovery at $AILERON_BROWSER_URL (the gateway's relay), whose
	// WebSocket URLs name the relay again; it opens a tab over CDP's HTTP
	// endpoint, and the tab shows in the front door's list.
	version := rt.sh(`curl -sS --noproxy '*' "$AILERON_BROWSER_URL/json/version"`)
	require.Contains(t, version, `"webSocketDebuggerUrl": "ws://gateway:`, version)
	var newTab struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(rt.sh(`curl -sS --noproxy '*' -X PUT "$AILERON_BROWSER_URL/json/new?about:blank"`)), &newTab))
	require.NotEmpty(t, newTab.ID)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		b := newServiceDoor(t, base, "browser", id)
		resp := b.do(http.MethodGet, "/json/list", "", nil)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Contains(c, string(body), newTab.ID)
	}, time.Minute, 200*time.Millisecond, "the tab the agent opened is not listed")
}

// testDevCanvas: what the agent writes under canvas/ through the runtime's
// files API is rendered on the canvas's own origin, and an open page
// reloads when the file changes.
func testDevCanvas(t *testing.T, base, id string, rt serviceDoor) {
	rt.putFile("canvas/index.md", "# Hello canvas\n\nfirst version\n")
	canvas := newServiceDoor(t, base, "canvas", id)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp := canvas.do(http.MethodGet, "/", "", nil)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(c, http.StatusOK, resp.StatusCode, "%s", body)
		require.Contains(c, string(body), ">Hello canvas</h1>")
	}, time.Minute, 200*time.Millisecond, "the canvas never rendered index.md")
	resp := canvas.do(http.MethodGet, "/../secret", "", nil)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "a path out of the canvas folder")

	ctx := headlessChromium(t)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(openLink(t, base, id, "canvas"))))
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	require.NoError(t, err)
	require.Contains(t, text, "first version")
	rt.putFile("canvas/index.md", "# Hello canvas\n\nsecond version\n")
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		require.NoError(c, err)
		require.Contains(c, text, "second version")
	}, time.Minute, 200*time.Millisecond, "the open page did not reload")
}
