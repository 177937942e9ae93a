package ui_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/event"
	"aileron.dev/services/api/apitest"
	"aileron.dev/services/api/auth"
	"aileron.dev/services/api/frontdoor"
	"aileron.dev/services/api/server"
	"aileron.dev/services/api/ui"
)

// probePage is what a hostile workspace serves: it tries to read the
// console's token and to call the API as the user, and reports what it got.
const probePage = `<!doctype html><title>probe</title><pre id="out"></pre><script>
(async () => {
  const r = {origin: location.origin, session: sessionStorage.getItem('aileron.token'),
    local: localStorage.getItem('aileron.token'), opener: window.opener === null};
  try {
    const resp = await fetch(API + '/api/v1/workspaces', {credentials: 'include'});
    r.api = 'status ' + resp.status + ' ' + (await resp.text()).slice(0, 40);
  } catch (e) { r.api = 'blocked'; }
  document.getElementById('out').textContent = JSON.stringify(r);
})();
</script>`

// TestConsoleOpensAServiceOnItsOwnOrigin clicks "Open" on a running
// workspace's runtime in headless Chromium: the new tab lands on
// runtime--<id>.localhost (which Chromium resolves to loopback), served
// through the front door, and a script there can neither read the console's
// token nor call the API as the user.
func TestConsoleOpensAServiceOnItsOwnOrigin(t *testing.T) {
	const token = "open-sesame"
	var api string
	ingress := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = io.WriteString(w, strings.Replace(probePage, "API", `'`+api+`'`, 1))
	}))
	t.Cleanup(ingress.Close)
	env := apitest.Start(t, apitest.Options{Server: func(c *server.Config) {
		c.UI = ui.Handler()
		c.Secure(auth.NewGuard(tokenAuth(t, token), nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil))))
		fc := frontdoor.DefaultConfig()
		c.FrontDoor = &fc
	}})
	api = env.URL
	actx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	cr, err := env.Client.CreateWorkspace(actx, &workspacev1.CreateWorkspaceRequest{Name: "opened", Provisioner: "docker"})
	require.NoError(t, err)
	w := cr.Workspace
	svcs := runningServices(w.Id, false)
	svcs.Runtime.Endpoint = ingress.URL + "/runtime/"
	svcs.Terminal.Endpoint = ingress.URL + "/terminal/"
	r := &eventsv1.StatusReport{WorkspaceId: w.Id, ObservedGeneration: w.Generation, Phase: "running", Services: svcs, Reporter: "test", Time: timestamppb.Now()}
	require.NoError(t, event.Publish(context.Background(), env.JS, event.StatusSubject(w.Id), w.Id+"-running", r))

	ctx := browser(t)
	do := steps(t, ctx)
	do("sign in", chromedp.Navigate(env.URL+"/"), visible(`#signin-dialog`),
		chromedp.SendKeys(chromedp.CSS(`#token-input`), token),
		chromedp.Click(chromedp.CSS(`#signin-dialog button[type="submit"]`)),
		visible(`#signout`), waitJS(`document.querySelector('#connection').dataset.state === 'live'`))
	do("open the workspace", chromedp.Navigate(env.URL+"/workspaces/"+w.Id),
		waitJS(`document.querySelector('#open-runtime') && !document.querySelector('#open-runtime').disabled`))
	require.True(t, disabled(t, ctx, `#open-canvas`), "the canvas is not enabled")
	require.Equal(t, token, eval[string](t, ctx, `sessionStorage.getItem('aileron.token')`))

	opened := chromedp.WaitNewTarget(ctx, serviceTab("runtime", w.Id))
	do("open the runtime", chromedp.Click(chromedp.CSS(`#open-runtime`)))
	id, ok := <-opened
	require.True(t, ok, "no tab opened")
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
	defer cancel()
	steps(t, tab)("the runtime's page runs", waitJS(`document.getElementById('out') && document.getElementById('out').textContent !== ''`))
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(eval[string](t, tab, `document.getElementById('out').textContent`)), &got))
	port := env.URL[strings.LastIndex(env.URL, ":")+1:]
	require.Equal(t, "http://runtime--"+w.Id+".localhost:"+port, got["origin"], "the service has an origin of its own")
	require.Nil(t, got["session"], "the console's token is out of reach")
	require.Nil(t, got["local"])
	require.Equal(t, true, got["opener"], "the tab has no handle on the console")
	require.Equal(t, "blocked", got["api"], "the page cannot call the API as the user")
	require.Equal(t, "http://runtime--"+w.Id+".localhost:"+port+"/", eval[string](t, tab, `location.href`), "the ticket is gone from the address bar")

	// The Terminal button opens the terminal service the same way.
	opened = chromedp.WaitNewTarget(ctx, serviceTab("terminal", w.Id))
	do("open the terminal", waitJS(`!document.querySelector('#action-terminal').disabled`), chromedp.Click(chromedp.CSS(`#action-terminal`)))
	id, ok = <-opened
	require.True(t, ok, "no tab opened")
	term, cancelTerm := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
	defer cancelTerm()
	steps(t, term)("the terminal's page runs", waitJS(`document.getElementById('out') && document.getElementById('out').textContent !== ''`))
	require.Equal(t, "http://terminal--"+w.Id+".localhost:"+port+"/", eval[string](t, term, `location.href`))
}

// serviceTab matches the tab the console opens for a service once it has
// left about:blank for the service's origin: attaching to it earlier races
// with that navigation ("Inspected target navigated or closed").
func serviceTab(service, id string) func(*target.Info) bool {
	return func(info *target.Info) bool {
		return info.Type == "page" && strings.Contains(info.URL, "://"+service+"--"+id+".localhost")
	}
}
