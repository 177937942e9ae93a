package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/event"
	pkgfd "aileron.dev/pkg/frontdoor"
	"aileron.dev/services/api/apitest"
	"aileron.dev/services/api/frontdoor"
	apiserver "aileron.dev/services/api/server"
)

func TestWorkspaceOpen(t *testing.T) {
	env := apitest.Start(t, apitest.Options{Server: func(c *apiserver.Config) {
		fc := frontdoor.DefaultConfig()
		c.FrontDoor = &fc
	}})
	w := createJSON(t, env, "opened")
	r := cli(t, env, "", "workspace", "open", w.Id)
	require.Equal(t, exitAPI, r.code, "%+v", r)
	require.Contains(t, r.stderr, "error: WORKSPACE_NOT_RUNNING: workspace "+w.Id+" is creating")

	rep := &eventsv1.StatusReport{WorkspaceId: w.Id, ObservedGeneration: w.Generation, Phase: "running", Reporter: "test", Time: timestamppb.Now()}
	require.NoError(t, event.Publish(context.Background(), env.JS, event.StatusSubject(w.Id), w.Id+"-running", rep))
	require.Eventually(t, func() bool {
		g, err := env.Client.GetWorkspace(context.Background(), &workspacev1.GetWorkspaceRequest{Id: w.Id})
		return err == nil && g.Workspace.State == "running"
	}, 10*time.Second, 20*time.Millisecond)

	r = cli(t, env, "", "workspace", "open", w.Id, "terminal")
	require.Equal(t, exitOK, r.code, "%+v", r)
	u, err := url.Parse(strings.TrimSpace(r.stdout))
	require.NoError(t, err)
	require.Equal(t, "terminal--"+w.Id+".localhost:"+env.URL[strings.LastIndex(env.URL, ":")+1:], u.Host)
	require.Equal(t, frontdoor.EnterPath, u.Path)
	require.NotEmpty(t, u.Query().Get("ticket"))

	r = cli(t, env, "", "workspace", "open", w.Id, "shell")
	require.Equal(t, exitAPI, r.code)
	require.Contains(t, r.stderr, "WORKSPACE_SERVICE_INVALID")
}

func TestWorkspacePortForward(t *testing.T) {
	var mu sync.Mutex
	var seen http.Header
	ingress := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
		_, _ = w.Write([]byte("runtime says hi at " + r.URL.Path))
	}))
	t.Cleanup(ingress.Close)
	env := apitest.Start(t, apitest.Options{Server: func(c *apiserver.Config) {
		fc := frontdoor.DefaultConfig()
		c.FrontDoor = &fc
	}})
	w := createJSON(t, env, "forwarded")
	rep := &eventsv1.StatusReport{WorkspaceId: w.Id, ObservedGeneration: w.Generation, Phase: "running", Reporter: "test", Time: timestamppb.Now(),
		Services: &workspacev1.Services{Runtime: &workspacev1.ServiceStatus{Enabled: true, State: "running", Endpoint: ingress.URL + "/runtime/"}}}
	require.NoError(t, event.Publish(context.Background(), env.JS, event.StatusSubject(w.Id), w.Id+"-running", rep))
	require.Eventually(t, func() bool {
		g, err := env.Client.GetWorkspace(context.Background(), &workspacev1.GetWorkspaceRequest{Id: w.Id})
		return err == nil && g.Workspace.State == "running"
	}, 10*time.Second, 20*time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"workspace", "port-forward", w.Id, "runtime", "--api", env.URL}, strings.NewReader(""), &out, &errOut)
	}()
	re := regexp.MustCompile(`Forwarding (http://127\.0\.0\.1:\d+) -> http://runtime--` + w.Id + `\.localhost:\d+/`)
	var local string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		m := re.FindStringSubmatch(out.String())
		require.NotNil(c, m, "stdout %q stderr %q", out.String(), errOut.String())
		local = m[1]
	}, 10*time.Second, 20*time.Millisecond)

	resp, err := http.Get(local + "/files")
	require.NoError(t, err)
	body := make([]byte, 64)
	n, _ := resp.Body.Read(body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body[:n]))
	require.Equal(t, "runtime says hi at /runtime/files", string(body[:n]))
	mu.Lock()
	require.NotEmpty(t, seen.Get(pkgfd.Header), "it went through the front door")
	require.Empty(t, seen.Get("Authorization"))
	mu.Unlock()

	for name, hdr := range map[string][2]string{"rebinding": {"Host", "evil.example"}, "cross-site": {"Origin", "http://evil.example"}} {
		req, _ := http.NewRequest("GET", local+"/files", nil)
		if hdr[0] == "Host" {
			req.Host = hdr[1]
		} else {
			req.Header.Set(hdr[0], hdr[1])
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode, name)
	}
	cancel()
	require.Equal(t, exitOK, <-done)
}
