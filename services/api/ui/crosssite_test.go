package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
)

// attackPage is what a page on another site can make the browser send to
// the API: a no-cors text/plain POST of JSON (no preflight needed), a JSON
// POST (needs a preflight), a read of the list, and a text/plain form
// posted into a frame (the classic JSON CSRF form).
const attackPage = `<!doctype html><html><body><iframe name="sink"></iframe>
<form id="f" method="POST" enctype="text/plain" target="sink"><input id="i"></form>
<script>
(async () => {
  const api = new URLSearchParams(location.search).get('api') + '/api/v1/workspaces';
  const body = JSON.stringify({name: 'pwned', provisioner: 'docker', workspace_firewall_domain_access_mode: 'unrestricted'});
  const out = [];
  try {
    const r = await fetch(api, {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'text/plain'}, body});
    out.push('no-cors:' + r.type);
  } catch (e) { out.push('no-cors:' + e.name); }
  try {
    const r = await fetch(api, {method: 'POST', headers: {'Content-Type': 'application/json'}, body});
    out.push('cors:' + r.status);
  } catch (e) { out.push('cors:' + e.name); }
  try {
    const r = await fetch(api);
    out.push('read:' + (await r.text()));
  } catch (e) { out.push('read:' + e.name); }
  const f = document.getElementById('f'), i = document.getElementById('i');
  f.action = api;
  i.name = '{"name":"formed","x":"';
  i.value = '"}';
  document.querySelector('iframe').onload = () => { document.title = 'done'; };
  document.body.dataset.out = out.join('|');
  f.submit();
})();
</script></body></html>`

// TestCrossSitePageCreatesNothing: in headless Chromium, a page on another
// origin — another site, another port of the same address (same-site), a
// *.localhost name (same-site with localhost) — can neither create a
// workspace through the API nor read its answers.
func TestCrossSitePageCreatesNothing(t *testing.T) {
	env := startConsole(t)
	apiPort := env.URL[strings.LastIndexByte(env.URL, ':'):]
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, attackPage)
	}))
	t.Cleanup(evil.Close)
	evilPort := evil.URL[strings.LastIndexByte(evil.URL, ':'):]

	// What Chromium sent to the API and what it got back, by request id.
	var mu sync.Mutex
	type exchange struct {
		method, url, secFetchSite, origin string
		status                            int64
	}
	seen := map[network.RequestID]*exchange{}
	at := func(id network.RequestID) *exchange {
		if seen[id] == nil {
			seen[id] = &exchange{}
		}
		return seen[id]
	}
	ctx := browser(t, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			e := at(ev.RequestID)
			e.method, e.url = ev.Request.Method, ev.Request.URL
		case *network.EventRequestWillBeSentExtraInfo:
			e := at(ev.RequestID)
			e.secFetchSite, _ = ev.Headers["Sec-Fetch-Site"].(string)
			e.origin, _ = ev.Headers["Origin"].(string)
		case *network.EventResponseReceived:
			at(ev.RequestID).status = ev.Response.Status
		}
	})

	cases := []struct{ name, page, api, site string }{
		{"another site", "http://localhost" + evilPort, "http://127.0.0.1" + apiPort, "cross-site"},
		{"another port of the same address", "http://127.0.0.1" + evilPort, "http://127.0.0.1" + apiPort, "same-site"},
		{"a *.localhost name", "http://evil.localhost" + evilPort, "http://localhost" + apiPort, "cross-site"}, // Chromium: *.localhost names are sites of their own
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mu.Lock()
			clear(seen)
			mu.Unlock()
			do := steps(t, ctx)
			do("load the page and let it attack", chromedp.Navigate(c.page+"/?api="+url.QueryEscape(c.api)),
				waitJS(`document.title === 'done'`))
			out := eval[string](t, ctx, `document.body.dataset.out`)
			require.Equal(t, "no-cors:opaque|cors:TypeError|read:TypeError", out, "the page learns nothing")

			mu.Lock()
			defer mu.Unlock()
			var log []string
			answered := 0
			for _, e := range seen {
				if !strings.HasPrefix(e.url, c.api+"/api/") {
					continue
				}
				log = append(log, fmt.Sprintf("%s %s Sec-Fetch-Site=%q Origin=%q -> %d", e.method, e.url, e.secFetchSite, e.origin, e.status))
				if e.method != http.MethodPost || e.status == 0 {
					continue // the JSON POST never leaves the browser: its preflight gets no CORS
				}
				// The no-cors POST reaches the server and is refused.
				answered++
				require.Equal(t, int64(http.StatusForbidden), e.status, "%+v", *e)
				if c.site != "" {
					require.Equal(t, c.site, e.secFetchSite, "%+v", *e)
				}
			}
			t.Logf("requests Chromium made to the API:\n%s", strings.Join(log, "\n"))
			require.NotZero(t, answered, "the no-cors POST reached the API")
		})
	}
	list, err := env.Client.ListWorkspaces(context.Background(), &workspacev1.ListWorkspacesRequest{})
	require.NoError(t, err)
	require.Empty(t, list.Workspaces, "no page created anything")
}
