package main

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/event"
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
