package runtimeapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"aileron.dev/services/workspace/activity"
)

type activityBody struct {
	Last   time.Time `json:"last_activity"`
	Source string    `json:"source"`
	Active bool      `json:"active"`
}

func TestActivity(t *testing.T) {
	h := newHarness(t)
	get := func() activityBody {
		var a activityBody
		h.call(http.MethodGet, "/v1/activity", nil, 200, &a)
		return a
	}

	h.call(http.MethodGet, "/healthz", nil, 200, nil)
	h.call(http.MethodGet, "/v1/files/stat?path=.", nil, 200, nil)
	h.call(http.MethodGet, "/v1/sessions", nil, 200, nil)
	h.refuse(http.MethodGet, "/v1/files/content?path=../etc/passwd", nil, 403, "PATH_OUTSIDE_ROOT")
	h.refuse(http.MethodPost, "/v1/exec", map[string]any{}, 400, "COMMAND_INVALID")
	require.True(t, get().Last.IsZero(), "health checks, polls, refused calls and the activity read are not activity")

	before := time.Now()
	h.stream(http.MethodPost, "/v1/exec", map[string]any{"shell": "true"}).all()
	a := get()
	require.Equal(t, "exec", a.Source)
	require.False(t, a.Last.Before(before))
	require.False(t, a.Active)

	h.call(http.MethodPost, "/v1/sessions", map[string]any{"tag": "agent", "argv": []string{"sleep", "30"}, "agent": true}, 201, nil)
	a = get()
	require.True(t, a.Active, "a running agent session is activity")
	require.Equal(t, "agent:agent", a.Source)

	h.call(http.MethodDelete, "/v1/sessions/agent", nil, 204, nil)
	require.Eventually(t, func() bool { return !get().Active }, 5*time.Second, 20*time.Millisecond)
	idle := get().Last
	h.call(http.MethodGet, "/healthz", nil, 200, nil)
	require.Equal(t, idle, get().Last, "a health check does not move it")
}

func TestActivityPeers(t *testing.T) {
	h := newHarness(t)
	peer := newHarness(t)
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close() // a peer that does not answer
	h.api.WithActivityPeers(activity.NewPeers([]string{peer.url + "/", gone.URL}))

	var a struct {
		activityBody
		Unreachable []string `json:"unreachable"`
	}
	h.call(http.MethodGet, "/v1/activity", nil, 200, &a)
	require.True(t, a.Last.IsZero())
	require.Equal(t, []string{gone.URL}, a.Unreachable, "a peer that did not answer is named")

	peer.act.Touch("terminal.input") // a person typing in the terminal container
	h.call(http.MethodGet, "/v1/activity", nil, 200, &a)
	require.Equal(t, "terminal.input", a.Source, "the peer's activity is the workspace's")
	require.False(t, a.Last.IsZero())

	var local activityBody
	h.call(http.MethodGet, "/v1/activity?local=1", nil, 200, &local)
	require.True(t, local.Last.IsZero(), "?local=1 answers this daemon's own activity only")

	h.stream(http.MethodPost, "/v1/exec", map[string]any{"shell": "true"}).all()
	h.call(http.MethodGet, "/v1/activity", nil, 200, &a)
	require.Equal(t, "exec", a.Source, "the latest of the two wins")
}
