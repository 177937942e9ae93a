package provisioner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
	"github.com/coder/websocket"
	"github.com/docker/docker/api/types/container"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/frontdoor"
	"aileron.dev/services/docker-provisioner/provisioner"
	"aileron.dev/services/firewall/egress"
)

// realBrowser runs the browser service from its real image (Chromium behind
// the browser daemon, hack/workspace-images.sh) with its default limits;
// AILERON_DOCKER_BROWSER_IMAGE names another build of it.
func realBrowser(c *provisioner.Config) {
	c.Services.Browser = provisioner.DefaultConfig().Services.Browser
	if img := os.Getenv("AILERON_DOCKER_BROWSER_IMAGE"); img != "" {
		c.Services.Browser.Image = img
	}
}

// browserFrontDoor stands in for the API's front door in front of the
// browser's endpoint: it adds the workspace's ingress secret and keeps the
// Host it was asked on, as the front door does, so the daemon names its
// DevTools URLs after this server and a CDP client connects back through
// it.
func browserFrontDoor(t *testing.T, e *egressWorld) *httptest.Server {
	t.Helper()
	target, err := url.Parse(e.br)
	require.NoError(t, err)
	secret := e.h.ingressSecret(e.ws.Id)
	fd := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
		pr.Out.Header.Set(frontdoor.Header, secret)
	}})
	t.Cleanup(fd.Close)
	return fd
}

// cdpVersion is the DevTools discovery answer.
type cdpVersion struct {
	Browser string `json:"Browser"`
	WS      string `json:"webSocketDebuggerUrl"`
}

func getJSON(t *testing.T, u string, into any) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, u)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(into))
}

// TestBrowserEndToEnd runs the real browser image in the egress world: a
// CDP client through the front door drives Chromium, whose every request
// goes through the browser group's gateway listener; the runtime drives it
// through the gateway's DevTools relay and reaches nothing else of it; a
// killed Chromium comes back without a container restart.
func TestBrowserEndToEnd(t *testing.T) {
	e := startEgressWorld(t, realBrowser)
	fd := browserFrontDoor(t, e)
	var v cdpVersion
	getJSON(t, fd.URL+"/json/version", &v)
	require.Contains(t, v.Browser, "Chrome", "the version names the browser")
	require.True(t, strings.HasPrefix(v.WS, "ws://"+strings.TrimPrefix(fd.URL, "http://")+"/devtools/browser/"),
		"the DevTools URL names the front door, not Chromium's loopback port: %s", v.WS)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	alloc, cancelAlloc := remote.NewAllocator(ctx, v.WS, remote.NoModifyURL)
	defer cancelAlloc()
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()

	t.Run("an allowed page loads; its subresource and fetch to a denied name are blocked", func(t *testing.T) {
		page := "http://" + hostBrowserOnly + "/page?sub=" + hostDenied
		require.NoError(t, chromedp.Do(tab, chromedp.Navigate(page)))
		served, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#served")))
		require.NoError(t, err)
		require.Equal(t, "served by "+e.fakeName+" to "+hostBrowserOnly, served)
		var title string
		require.Eventually(t, func() bool {
			title, err = chromedp.Run(tab, chromedp.Title())
			return err == nil && strings.HasSuffix(title, " fetch blocked")
		}, waitFor, tick, "the page's fetch() to %s was not blocked: title %q", hostDenied, title)
		require.True(t, strings.HasPrefix(title, e.fakeName+" "+hostBrowserOnly), title)
	})

	t.Run("a denied name gets the gateway's denial", func(t *testing.T) {
		require.Contains(t, pageText(t, tab, "http://"+hostDenied+"/page"), "aileron egress gateway: "+egress.ReasonNotAllowed)
	})

	t.Run("a name of the workspace group's list is not the browser's", func(t *testing.T) {
		require.Contains(t, pageText(t, tab, "http://"+hostAllowed+"/page"), "aileron egress gateway: "+egress.ReasonNotAllowed)
	})

	t.Run("nothing reached the fake internet for a denied name, and Chromium resolved nothing", func(t *testing.T) {
		for _, ev := range settledRead(func() []fakeEvent { return fakeEvents(t, e.fakeName, "") }) {
			require.NotEqual(t, hostDenied, strings.Split(ev.Host, ":")[0], "a request for the denied name reached the fake internet: %+v", ev)
			require.NotEqual(t, hostAllowed, strings.Split(ev.Host, ":")[0], "a request for the workspace's name reached the fake internet from the browser: %+v", ev)
			if ev.Event == "dns" {
				require.NotEqual(t, e.chromeIP, ev.remoteIP(), "the browser asked the fake internet's DNS itself: %+v", ev)
			}
		}
		ds := eventuallyRead(t, func() []gatewayDecision { return e.gatewayDecisions(t) }, func(ds []gatewayDecision) bool {
			return slices.ContainsFunc(ds, func(d gatewayDecision) bool {
				return d.Host == hostDenied && d.Decision == "deny" && d.Group == "browser" && clientIP(d) == e.chromeIP
			})
		}, "the gateway never denied the browser's requests for "+hostDenied)
		require.True(t, slices.ContainsFunc(ds, func(d gatewayDecision) bool {
			return d.Host == hostBrowserOnly && d.Decision == "allow" && clientIP(d) == e.chromeIP
		}), "the browser's page load went through the gateway: %+v", ds)
	})

	t.Run("the runtime drives the browser through the DevTools relay, and reaches nothing else of it", func(t *testing.T) {
		relay := fmt.Sprintf("http://gateway:%d", e.h.cfg.Gateway.CDPPort)
		page := "http://" + hostBrowserOnly + "/page"
		r := e.fetch(t, e.rt, relay+"/json/new?"+page, url.Values{"method": {http.MethodPut}})
		require.Equal(t, http.StatusOK, r.Status, "PUT /json/new from the runtime: %+v", r)
		require.Contains(t, r.Body, `"webSocketDebuggerUrl": "ws://gateway:`, "the relay's Host names the tab's CDP URL: %s", r.Body)
		require.Eventually(t, func() bool {
			r := e.fetch(t, e.rt, relay+"/json/list", nil)
			return r.Status == http.StatusOK && strings.Contains(r.Body, `"title": "`+e.fakeName+" "+hostBrowserOnly)
		}, waitFor, tick, "the tab the runtime opened never loaded %s", page)
		for _, path := range []string{"/", "/v1/screenshot", "/v1/tabs", "/healthz"} {
			r := e.fetch(t, e.rt, relay+path, nil)
			require.Equal(t, http.StatusNotFound, r.Status, "the relay passes only DevTools paths: %s %+v", path, r)
		}
		// From the browser's own network there is no relay (bash's
		// /dev/tcp in the browser container: a TCP connect, nothing more),
		// while the browser group's own proxy listener there answers.
		connect := func(port int) int {
			return execIn(t, ctx, provisioner.ContainerName("browser", e.ws.Id), "bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/%s/%d", e.brGateway, port))
		}
		require.Zero(t, connect(e.h.cfg.Gateway.BrowserPort), "control: the browser reaches its proxy listener")
		require.NotZero(t, connect(e.h.cfg.Gateway.CDPPort), "the relay listens on the workspace network only")
	})

	t.Run("a screencast frame is a JPEG, a click through the preview reaches the page, a screenshot is a PNG", func(t *testing.T) {
		require.NoError(t, chromedp.Do(tab, chromedp.Navigate("http://"+hostBrowserOnly+"/page")))
		tabID := string(chromedp.FromContext(tab).Target.TargetID)
		wsURL := "ws" + strings.TrimPrefix(fd.URL, "http") + "/v1/screencast?target=" + tabID
		conn, _, err := websocket.Dial(ctx, wsURL, nil)
		require.NoError(t, err)
		defer conn.CloseNow()
		conn.SetReadLimit(32 << 20)
		var frame []byte
		for frame == nil {
			typ, data, err := conn.Read(ctx)
			require.NoError(t, err, "the screencast ended before a frame")
			if typ == websocket.MessageBinary {
				frame = data
			}
		}
		img, err := jpeg.Decode(bytes.NewReader(frame))
		require.NoError(t, err, "a frame is a JPEG")
		require.Greater(t, img.Bounds().Dx(), 100)
		// Keep reading (frames are acknowledged as they are written) while
		// the click goes in.
		go func() {
			for {
				if _, _, err := conn.Read(ctx); err != nil {
					return
				}
			}
		}()
		for _, ev := range []string{"mousePressed", "mouseReleased"} {
			msg := fmt.Sprintf(`{"type": "mouse", "event": %q, "x": 0.5, "y": 0.5, "button": "left", "buttons": 1, "clickCount": 1}`, ev)
			require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(msg)))
		}
		var title string
		require.Eventually(t, func() bool {
			title, err = chromedp.Run(tab, chromedp.Title())
			return err == nil && strings.HasPrefix(title, "clicked ")
		}, waitFor, tick, "the page never saw the preview's click: title %q", title)

		resp, err := http.Get(fd.URL + "/v1/screenshot?target=" + tabID)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, "image/png", resp.Header.Get("Content-Type"))
		_, err = png.Decode(resp.Body)
		require.NoError(t, err, "a screenshot is a PNG")
	})

	t.Run("a killed Chromium comes back without a container restart", func(t *testing.T) {
		before := e.containerStarts(t)
		var st struct {
			State    string `json:"state"`
			Restarts int    `json:"restarts"`
			PID      int    `json:"pid"`
		}
		getJSON(t, fd.URL+"/v1/status", &st)
		require.Equal(t, "running", st.State)
		require.NotZero(t, st.PID)
		restarts := st.Restarts
		require.Zero(t, execIn(t, ctx, provisioner.ContainerName("browser", e.ws.Id), "bash", "-c", fmt.Sprintf("kill -9 %d", st.PID)))
		require.Eventually(t, func() bool {
			getJSON(t, fd.URL+"/v1/status", &st)
			return st.Restarts == restarts+1 && st.State == "running"
		}, waitFor, tick, "Chromium never came back: %+v", st)
		var v cdpVersion
		getJSON(t, fd.URL+"/json/version", &v)
		require.Contains(t, v.WS, "/devtools/browser/", "DevTools answers again")
		w := e.h.waitState(e.ws.Id, "running")
		require.Equal(t, "running", w.Services.Browser.State)
		require.Equal(t, before, e.containerStarts(t), "no container restarted: the daemon restarted Chromium")
	})
}

// pageText navigates tab to u and returns the page's text.
func pageText(t *testing.T, tab context.Context, u string) string {
	t.Helper()
	require.NoError(t, chromedp.Do(tab, chromedp.Navigate(u)))
	text, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.innerText`))
	require.NoError(t, err)
	return text
}

// execIn runs a command in a container as the workspace user and returns
// its exit code.
func execIn(t *testing.T, ctx context.Context, name string, cmd ...string) int {
	t.Helper()
	ex, err := docker.ContainerExecCreate(ctx, name, container.ExecOptions{User: "65532:65532", Cmd: cmd})
	require.NoError(t, err)
	require.NoError(t, docker.ContainerExecStart(ctx, ex.ID, container.ExecStartOptions{}))
	for {
		st, err := docker.ContainerExecInspect(ctx, ex.ID)
		require.NoError(t, err)
		if !st.Running {
			return st.ExitCode
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%v in %s never ended", cmd, name)
		case <-time.After(tick):
		}
	}
}
