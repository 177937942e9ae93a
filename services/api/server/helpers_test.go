package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/apitest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The nats client and server keep background goroutines that stop
		// asynchronously after Close/Shutdown.
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*Server).acceptConnections.func1"),
		goleak.IgnoreTopFunction("time.Sleep"),
	)
}

// call sends a REST request and decodes the JSON answer.
func call(t testing.TB, env *apitest.Env, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	default:
		data, err := json.Marshal(b)
		require.NoError(t, err)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, env.URL+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := map[string]any{}
	if len(data) > 0 {
		require.NoError(t, json.Unmarshal(data, &out), "body: %s", data)
	}
	return resp.StatusCode, out
}

func create(t testing.TB, env *apitest.Env, name string) map[string]any {
	t.Helper()
	code, w := call(t, env, "POST", "/api/v1/workspaces", map[string]any{"name": name, "provisioner": "docker"})
	require.Equal(t, http.StatusCreated, code, "%v", w)
	return w
}

func get(t testing.TB, env *apitest.Env, id string) (int, map[string]any) {
	return call(t, env, "GET", "/api/v1/workspaces/"+id, nil)
}

// report publishes a provisioner status report, as a provisioner would.
func report(t testing.TB, env *apitest.Env, id string, gen int64, phase string) {
	t.Helper()
	r := &eventsv1.StatusReport{WorkspaceId: id, ObservedGeneration: gen, Phase: phase, Reason: "test says " + phase, Reporter: "test", Time: timestamppb.Now()}
	require.NoError(t, event.Publish(context.Background(), env.JS, event.StatusSubject(id), id+"-"+phase+"-"+time.Now().String(), r))
}

// waitState polls GET until the workspace is in state.
func waitState(t testing.TB, env *apitest.Env, id, state string) map[string]any {
	t.Helper()
	var w map[string]any
	require.Eventually(t, func() bool {
		_, w = get(t, env, id)
		return w["state"] == state
	}, 10*time.Second, 20*time.Millisecond, "workspace %s never reached %s: %v", id, state, w)
	return w
}

func generation(t testing.TB, w map[string]any) int64 {
	g, err := strconv.ParseInt(w["generation"].(string), 10, 64)
	require.NoError(t, err)
	return g
}

// events reads every workspace event published from now on, in order.
func events(t testing.TB, env *apitest.Env) func() *eventsv1.WorkspaceEvent {
	t.Helper()
	sub, err := env.NC.SubscribeSync(event.AllWorkspacesFilter)
	require.NoError(t, err)
	require.NoError(t, env.NC.Flush())
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return func() *eventsv1.WorkspaceEvent {
		t.Helper()
		msg, err := sub.NextMsg(5 * time.Second)
		require.NoError(t, err)
		ev := &eventsv1.WorkspaceEvent{}
		require.NoError(t, proto.Unmarshal(msg.Data, ev))
		require.Equal(t, ev.Id, msg.Header.Get("Nats-Msg-Id"))
		require.Equal(t, event.WorkspaceSubject(workspace.Provisioner(ev.Workspace.Provisioner), ev.Workspace.Id, ev.Type), msg.Subject)
		return ev
	}
}

const (
	waitFor = 10 * time.Second
	tick    = 20 * time.Millisecond
)
