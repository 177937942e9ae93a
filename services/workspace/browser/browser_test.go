package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"image/jpeg"
	"image/png"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/remote"
	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/errcode"
	"aileron.dev/services/workspace/activity"
	"aileron.dev/services/workspace/apijson"
	"aileron.dev/services/workspace/browser/cdp"
)

func TestDaemon(t *testing.T) {
	h := start(t, "")
	web := pages(t)

	t.Run("discovery uses the request's host and scheme", func(t *testing.T) {
		h := h.with(t)
		for _, tc := range []struct{ proto, want, wantFrontend string }{
			{"https", "wss://browser.example.test/devtools/browser/", "wss=browser.example.test/devtools/page/"},
			{"", "ws://browser.example.test/devtools/browser/", "ws=browser.example.test/devtools/page/"},
		} {
			var version map[string]any
			get := func(path string, out any) {
				req, _ := http.NewRequest("GET", h.srv.URL+path, nil)
				req.Host = "browser.example.test"
				if tc.proto != "" {
					req.Header.Set("X-Forwarded-Proto", tc.proto)
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				require.Equal(t, http.StatusOK, resp.StatusCode)
				require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
			}
			get("/json/version", &version)
			require.True(t, strings.HasPrefix(version["webSocketDebuggerUrl"].(string), tc.want), "%v", version)
			get("/json/version/", &version) // Playwright's spelling
			require.True(t, strings.HasPrefix(version["webSocketDebuggerUrl"].(string), tc.want), "%v", version)
			require.Contains(t, version["Browser"], "Chrome/")
			var list []map[string]any
			get("/json/list", &list)
			require.NotEmpty(t, list)
			for _, target := range list {
				require.NotContains(t, target["webSocketDebuggerUrl"], "127.0.0.1")
				if target["type"] == "page" {
					require.Contains(t, target["devtoolsFrontendUrl"], tc.wantFrontend)
				}
			}
		}
	})

	t.Run("a new target's URLs are public too, and a browser page's upgrade is checked", func(t *testing.T) {
		h := h.with(t)
		req, _ := http.NewRequest("PUT", h.srv.URL+"/json/new?about:blank", nil)
		req.Host = "browser.example.test"
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var target map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&target))
		resp.Body.Close()
		require.Equal(t, "ws://browser.example.test/devtools/page/"+target["id"].(string), target["webSocketDebuggerUrl"])
		h.t.Cleanup(func() { _ = h.do("DELETE", "/v1/tabs/"+target["id"].(string), nil, nil) })

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, resp, err = websocket.Dial(ctx, "ws://"+h.host+"/devtools/page/"+target["id"].(string),
			&websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://evil.example"}}})
		require.Error(t, err)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		_, resp, err = websocket.Dial(ctx, "ws://"+h.host+"/devtools/page/NOPE", nil)
		require.Error(t, err)
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
	})

	t.Run("chromedp drives Chromium through the daemon", func(t *testing.T) {
		h := h.with(t)
		actx, cancel := remote.NewAllocator(context.Background(), "ws://"+h.host+"/")
		defer cancel()
		ctx, cancel := chromedp.NewContext(actx)
		defer cancel()
		ctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := chromedp.Run(ctx, chromedp.Navigate(web.URL+"/"))
		require.NoError(t, err)
		title, err := chromedp.Run(ctx, chromedp.Title())
		require.NoError(t, err)
		require.Equal(t, "Hello", title)
		text, err := chromedp.Run(ctx, chromedp.Text("#h"))
		require.NoError(t, err)
		require.Equal(t, "served", text)
	})

	t.Run("tabs open, list, navigate and close", func(t *testing.T) {
		h := h.with(t)
		tab := h.newTab(web.URL + "/")
		h.awaitEval(tab.ID, "document.title", "Hello")
		var list struct{ Tabs []Tab }
		require.Equal(t, http.StatusOK, h.do("GET", "/v1/tabs", nil, &list))
		require.Contains(t, ids(list.Tabs), tab.ID)

		require.Equal(t, http.StatusOK, h.status("POST", "/v1/tabs/"+tab.ID+"/navigate", map[string]string{"url": web.URL + "/click"}))
		h.awaitEval(tab.ID, "document.title", "clicks:0")

		require.Equal(t, http.StatusNoContent, h.status("DELETE", "/v1/tabs/"+tab.ID, nil))
		require.Eventually(t, func() bool {
			require.Equal(t, http.StatusOK, h.do("GET", "/v1/tabs", nil, &list))
			return !contains(ids(list.Tabs), tab.ID)
		}, 10*time.Second, 50*time.Millisecond)
		var e apijson.ErrorBody
		require.Equal(t, http.StatusNotFound, h.do("DELETE", "/v1/tabs/"+tab.ID, nil, &e))
		require.Equal(t, errcode.BrowserTabNotFound, e.Code)
		require.Equal(t, http.StatusNotFound, h.do("POST", "/v1/tabs/NOPE/navigate", map[string]string{"url": "about:blank"}, &e))
		require.Equal(t, errcode.BrowserTabNotFound, e.Code)
		require.Equal(t, http.StatusNotFound, h.do("GET", "/v1/screenshot?target=NOPE", nil, &e))
		require.Equal(t, errcode.BrowserTabNotFound, e.Code)
	})

	t.Run("a URL that is not http, https or about:blank is refused", func(t *testing.T) {
		h := h.with(t)
		for _, u := range []string{"file:///etc/passwd", "javascript:alert(1)", "chrome://settings", "data:text/html,hi", "http://", "ftp://example.com/", "about:config"} {
			var e apijson.ErrorBody
			require.Equal(t, http.StatusBadRequest, h.do("POST", "/v1/tabs", map[string]string{"url": u}, &e), u)
			require.Equal(t, errcode.BrowserURLInvalid, e.Code, u)
			require.Equal(t, "url", e.Field)
			require.Equal(t, http.StatusBadRequest, h.do("POST", "/v1/tabs/any/navigate", map[string]string{"url": u}, &e), u)
			require.Equal(t, errcode.BrowserURLInvalid, e.Code, u)
		}
		var e apijson.ErrorBody
		require.Equal(t, http.StatusBadRequest, h.do("POST", "/v1/tabs", map[string]string{"link": "x"}, &e))
		require.Equal(t, errcode.RequestInvalid, e.Code)
		// What a page can send without asking first is refused.
		resp, err := http.Post(h.srv.URL+"/v1/tabs", "text/plain", strings.NewReader(`{"url":"about:blank"}`))
		require.NoError(t, err)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
		resp.Body.Close()
		require.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)
		require.Equal(t, errcode.RequestContentTypeInvalid, e.Code)
	})

	t.Run("screenshot is a PNG of the tab", func(t *testing.T) {
		h := h.with(t)
		tab := h.newTab(web.URL + "/click")
		h.awaitEval(tab.ID, "document.title", "clicks:0")
		resp, err := http.Get(h.srv.URL + "/v1/screenshot?target=" + tab.ID)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "image/png", resp.Header.Get("Content-Type"))
		img, err := png.Decode(resp.Body)
		require.NoError(t, err)
		require.Equal(t, 1280, img.Bounds().Dx())

		resp, err = http.Get(h.srv.URL + "/v1/screenshot") // the current tab
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		_, err = png.Decode(resp.Body)
		require.NoError(t, err)
	})

	t.Run("screencast frames are JPEG and a click reaches the page", func(t *testing.T) {
		h := h.with(t)
		tab := h.newTab(web.URL + "/click")
		h.awaitEval(tab.ID, "document.title", "clicks:0")
		h.newTab("about:blank") // now in front: the screencast brings tab back
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, "ws://"+h.host+"/v1/screencast?target="+tab.ID, nil)
		require.NoError(t, err)
		defer c.CloseNow()
		c.SetReadLimit(16 << 20)
		var first map[string]any
		readJSON(ctx, t, c, &first)
		require.Equal(t, "tab", first["type"])
		require.Equal(t, tab.ID, first["id"])

		var meta FrameMeta
		readJSON(ctx, t, c, &meta)
		require.Equal(t, "frame", meta.Type)
		typ, frame, err := c.Read(ctx)
		require.NoError(t, err)
		require.Equal(t, websocket.MessageBinary, typ)
		require.Equal(t, "image/jpeg", http.DetectContentType(frame))
		require.Greater(t, len(frame), 2000)
		img, err := jpeg.Decode(bytes.NewReader(frame))
		require.NoError(t, err)
		require.Greater(t, img.Bounds().Dx(), 100)

		// A bad message is answered on the socket, which stays open.
		for _, bad := range []string{`{"type":"navigate","url":"file:///etc/passwd"}`, `not json`, `{"type":"mouse","event":"explode"}`} {
			require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(bad)))
			for {
				typ, b, err := c.Read(ctx)
				require.NoError(t, err)
				var m map[string]string
				if typ == websocket.MessageText && json.Unmarshal(b, &m) == nil && m["type"] == "error" {
					require.NotEmpty(t, m["code"], bad)
					if strings.Contains(bad, "file:") {
						require.Equal(t, string(errcode.BrowserURLInvalid), m["code"])
					}
					break
				}
			}
		}

		// Frames keep coming while we click: read them off in the background.
		go func() {
			for {
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
			}
		}()
		for _, ev := range []string{"mousePressed", "mouseReleased"} {
			b, _ := json.Marshal(Input{Type: "mouse", Event: ev, X: 0.5, Y: 0.25, Button: "left", Buttons: 1, ClickCount: 1})
			require.NoError(t, c.Write(ctx, websocket.MessageText, b))
		}
		h.awaitClick(tab.ID, 0.5, 0.25)

		// Input through the preview is activity; looking is not.
		b, _ := json.Marshal(Input{Type: "mouse", Event: "mouseMoved", X: 0.1, Y: 0.1})
		require.NoError(t, c.Write(ctx, websocket.MessageText, b))
		var act activity.Snapshot
		require.Eventually(t, func() bool {
			require.Equal(t, http.StatusOK, h.do("GET", "/v1/activity", nil, &act))
			return act.Source == "browser.input"
		}, 10*time.Second, 20*time.Millisecond)
		require.Equal(t, http.StatusOK, h.status("GET", "/v1/tabs", nil))
		require.Equal(t, http.StatusOK, h.status("GET", "/healthz", nil))
		require.Equal(t, http.StatusOK, h.status("GET", "/v1/screenshot?target="+tab.ID, nil))
		var after activity.Snapshot
		require.Equal(t, http.StatusOK, h.do("GET", "/v1/activity", nil, &after))
		require.Equal(t, act, after)
		c.Close(websocket.StatusNormalClosure, "")
	})

	t.Run("the preview page shows a tab and passes a click to it", func(t *testing.T) {
		h := h.with(t)
		resp, err := http.Get(h.srv.URL + "/")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "script-src 'self'")

		watched := h.newTab(web.URL + "/click")
		h.awaitEval(watched.ID, "document.title", "clicks:0")
		// The preview page runs in the same Chromium, in a window of its own
		// (a tab would hide the one it shows), showing the other tab.
		preview := h.newWindow(h.srv.URL + "/#" + watched.ID)
		// Live, drawn, and the tab list filled in: the layout is settled.
		h.awaitEval(preview.ID, `String(document.getElementById("state").textContent === "live" &&
			document.getElementById("screen").width > 100 && document.querySelector("#tabs .current") !== null)`, "true")
		var box struct{ X, Y float64 }
		require.NoError(t, json.Unmarshal([]byte(h.eval(preview.ID,
			`(r => JSON.stringify({x: r.left + r.width/2, y: r.top + r.height/2}))(document.getElementById("screen").getBoundingClientRect())`)), &box))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := cdp.Dial(ctx, "ws://"+h.host+"/devtools/page/"+preview.ID, 1<<20)
		require.NoError(t, err)
		defer c.Close()
		for _, ev := range []string{"mousePressed", "mouseReleased"} {
			require.NoError(t, c.Call(ctx, "Input.dispatchMouseEvent", map[string]any{
				"type": ev, "x": box.X, "y": box.Y, "button": "left", "buttons": 1, "clickCount": 1}, nil))
		}
		h.awaitClick(watched.ID, 0.5, 0.5)
	})

	t.Run("malformed and flooding DevTools clients are answered and bounded", func(t *testing.T) {
		h := h.with(t)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		var version map[string]string
		require.Equal(t, http.StatusOK, h.do("GET", "/json/version", nil, &version))
		url := version["webSocketDebuggerUrl"]
		dial := func() *websocket.Conn {
			c, _, err := websocket.Dial(ctx, url, nil)
			require.NoError(t, err)
			c.SetReadLimit(16 << 20)
			return c
		}
		call := func(c *websocket.Conn, id int) map[string]any {
			b, _ := json.Marshal(map[string]any{"id": id, "method": "Browser.getVersion"})
			require.NoError(t, c.Write(ctx, websocket.MessageText, b))
			var out map[string]any
			readJSON(ctx, t, c, &out)
			return out
		}
		bad := dial()
		defer bad.CloseNow()
		for _, m := range []struct {
			typ websocket.MessageType
			msg string
		}{
			{websocket.MessageText, "not json"},
			{websocket.MessageText, `{"method":"Browser.getVersion"}`},
			{websocket.MessageText, `{"id":"x","method":"Browser.getVersion"}`},
			{websocket.MessageText, `{"id":7}`},
			{websocket.MessageText, `[1,2]`},
			{websocket.MessageBinary, `{"id":8,"method":"Browser.getVersion"}`},
		} {
			require.NoError(t, bad.Write(ctx, m.typ, []byte(m.msg)))
			var out map[string]any
			readJSON(ctx, t, bad, &out)
			require.Contains(t, out, "error", m.msg)
		}
		require.Contains(t, call(bad, 1)["result"], "product", "the connection still works after bad messages")

		// A burst: every message is answered, and another client is served meanwhile.
		const burst = 3000
		flood := dial()
		defer flood.CloseNow()
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= burst; i++ {
				b, _ := json.Marshal(map[string]any{"id": i, "method": "Browser.getVersion"})
				if flood.Write(ctx, websocket.MessageText, b) != nil {
					return
				}
			}
		}()
		other := dial()
		defer other.CloseNow()
		require.Contains(t, call(other, 1)["result"], "product")
		for got := 0; got < burst; got++ {
			var out map[string]any
			readJSON(ctx, t, flood, &out)
		}
		wg.Wait()

		// Over the size cap: that connection is closed, the others live on.
		big := dial()
		defer big.CloseNow()
		huge := `{"id":1,"method":"Runtime.evaluate","params":{"expression":"` + strings.Repeat("x", 2<<20) + `"}}`
		_ = big.Write(ctx, websocket.MessageText, []byte(huge))
		_, _, err := big.Read(ctx)
		require.Equal(t, websocket.StatusMessageTooBig, websocket.CloseStatus(err), "%v", err)
		require.Contains(t, call(other, 2)["result"], "product")
		require.Equal(t, http.StatusOK, h.status("GET", "/healthz", nil))
	})
}

func TestConnectionLimit(t *testing.T) {
	h := start(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var version map[string]string
	require.Equal(t, http.StatusOK, h.do("GET", "/json/version", nil, &version))
	var open []*websocket.Conn
	defer func() {
		for _, c := range open {
			c.CloseNow()
		}
	}()
	for range testLimits.MaxConns {
		c, _, err := websocket.Dial(ctx, version["webSocketDebuggerUrl"], nil)
		require.NoError(t, err)
		open = append(open, c)
	}
	_, resp, err := websocket.Dial(ctx, version["webSocketDebuggerUrl"], nil)
	require.Error(t, err)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	var e apijson.ErrorBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&e))
	require.Equal(t, errcode.BrowserConnectionLimitReached, e.Code)

	// A closed connection frees its slot.
	require.NoError(t, open[0].Close(websocket.StatusNormalClosure, ""))
	open = open[1:]
	require.Eventually(t, func() bool {
		c, _, err := websocket.Dial(ctx, version["webSocketDebuggerUrl"], nil)
		if err != nil {
			return false
		}
		open = append(open, c)
		return true
	}, 10*time.Second, 20*time.Millisecond)
}

func readJSON(ctx context.Context, t *testing.T, c *websocket.Conn, out any) {
	t.Helper()
	typ, b, err := c.Read(ctx)
	require.NoError(t, err)
	require.Equal(t, websocket.MessageText, typ, "%q", b)
	require.NoError(t, json.Unmarshal(b, out), "%q", b)
}

func ids(tabs []Tab) []string {
	var out []string
	for _, t := range tabs {
		out = append(out, t.ID)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
