package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/apitest"
	"aileron.dev/services/api/orchestrator"
)

// TestConcurrentConflictingCommands: stop and restart race on a running
// workspace; exactly one wins, the other answers 409, and the record stays
// whole with its generation bumped once.
func TestConcurrentConflictingCommands(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	for i := 0; i < 10; i++ {
		w := create(t, env, fmt.Sprintf("race-%d", i))
		id := w["id"].(string)
		report(t, env, id, 1, "running")
		waitState(t, env, id, "running")

		codes := make([]int, 2)
		var wg sync.WaitGroup
		for j, path := range []string{"/stop", "/restart"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[j], _ = call(t, env, "POST", "/api/v1/workspaces/"+id+path, nil)
			}()
		}
		wg.Wait()
		require.ElementsMatch(t, []int{http.StatusAccepted, http.StatusConflict}, codes)
		rec, err := env.Store.Get(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, int64(2), rec.Workspace.Generation)
		require.Contains(t, []string{"stopping", "restarting"}, rec.Workspace.State)
	}
}

func TestConcurrentFirewallUpdatesOneWins(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	id := create(t, env, "fw-race")["id"].(string)
	const n = 8
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = call(t, env, "PUT", "/api/v1/workspaces/"+id+"/firewall", map[string]any{
				"revision": "1", "workspace_firewall_allowed_domains": []string{fmt.Sprintf("site%d.example.com", i)},
			})
		}()
	}
	wg.Wait()
	won := 0
	for _, c := range codes {
		require.Contains(t, []int{http.StatusAccepted, http.StatusConflict}, c)
		if c == http.StatusAccepted {
			won++
		}
	}
	require.Equal(t, 1, won)
	_, fw := call(t, env, "GET", "/api/v1/workspaces/"+id+"/firewall", nil)
	require.Equal(t, "2", fw["revision"])
	require.Len(t, fw["workspace_firewall_allowed_domains"], 1)
}

// TestRestartsKeepWorkspacesAndEvents restarts the orchestrator, then NATS, on
// the same store dir: every workspace and every unacknowledged event survives.
func TestRestartsKeepWorkspacesAndEvents(t *testing.T) {
	dir := t.TempDir()
	env := apitest.Start(t, apitest.Options{StoreDir: dir})
	ids := map[string]bool{}
	for i := range 5 {
		ids[create(t, env, fmt.Sprintf("keep-%d", i))["id"].(string)] = true
	}
	ctx := context.Background()
	// A provisioner's durable consumer that has not processed anything yet.
	_, err := env.JS.CreateOrUpdateConsumer(ctx, bus.StreamName, jetstream.ConsumerConfig{
		Durable: "test-provisioner", FilterSubjects: []string{event.WorkspaceFilter("docker")}, AckPolicy: jetstream.AckExplicitPolicy,
	})
	require.NoError(t, err)

	env.Stop()
	env.NC.Close()
	env.NATS.Shutdown()
	env.NATS.WaitForShutdown()

	env2 := apitest.Start(t, apitest.Options{StoreDir: dir})
	code, list := call(t, env2, "GET", "/api/v1/workspaces", nil)
	require.Equal(t, http.StatusOK, code)
	got := map[string]bool{}
	for _, w := range list["workspaces"].([]any) {
		got[w.(map[string]any)["id"].(string)] = true
	}
	require.Equal(t, ids, got)

	cons, err := env2.JS.Consumer(ctx, bus.StreamName, "test-provisioner")
	require.NoError(t, err)
	batch, err := cons.Fetch(10, jetstream.FetchMaxWait(2*time.Second))
	require.NoError(t, err)
	seen := map[string]bool{}
	for m := range batch.Messages() {
		ev := &eventsv1.WorkspaceEvent{}
		require.NoError(t, proto.Unmarshal(m.Data(), ev))
		require.Equal(t, event.TypeCreated, ev.Type)
		seen[ev.Workspace.Id] = true
		require.NoError(t, m.Ack())
	}
	require.Equal(t, ids, seen)
}

// TestOutboxRecovery simulates a crash between the KV write and the publish:
// the record holds an event the stream never got; start-up publishes it once.
func TestOutboxRecovery(t *testing.T) {
	dir := t.TempDir()
	env := apitest.Start(t, apitest.Options{StoreDir: dir})
	id := create(t, env, "crashy")["id"].(string)
	env.Stop()

	ctx := context.Background()
	rec, err := env.Store.Get(ctx, id)
	require.NoError(t, err)
	rec.Workspace.State = string(workspace.StateStopping)
	rec.Workspace.Generation++
	rec.EventSequence++
	rec.LastEvent = &eventsv1.WorkspaceEvent{Id: fmt.Sprintf("%s-%d", id, rec.EventSequence), Type: event.TypeStopRequested, Sequence: rec.EventSequence}
	_, err = env.Store.Update(ctx, rec, rec.Workspace.Revision)
	require.NoError(t, err)

	sub, err := env.NC.SubscribeSync(event.WorkspaceSubject("docker", id, event.TypeStopRequested))
	require.NoError(t, err)
	apitest.Attach(t, env) // the orchestrator restarts

	msg, err := sub.NextMsg(5 * time.Second)
	require.NoError(t, err)
	ev := &eventsv1.WorkspaceEvent{}
	require.NoError(t, proto.Unmarshal(msg.Data, ev))
	require.Equal(t, uint64(2), ev.Sequence)
	require.Equal(t, "stopping", ev.Workspace.State)
}

func TestDeadlineFailsWorkspace(t *testing.T) {
	cfg := orchestrator.DefaultConfig()
	cfg.SweepInterval = 20 * time.Millisecond
	cfg.Deadlines[workspace.StateCreating] = 100 * time.Millisecond
	env := apitest.Start(t, apitest.Options{Orchestrator: &cfg})
	id := create(t, env, "slow")["id"].(string)
	w := waitState(t, env, id, "failed")
	require.Equal(t, "DEADLINE_EXCEEDED", w["error_code"])
	require.Contains(t, w["state_reason"], "creating did not finish within 100ms")
	// failed can be deleted
	code, w := call(t, env, "DELETE", "/api/v1/workspaces/"+id, nil)
	require.Equal(t, http.StatusAccepted, code)
	require.Equal(t, "deleting", w["state"])
}

func TestWatchOverREST(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	before := create(t, env, "before")["id"].(string)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", env.URL+"/api/v1/workspaces:watch", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	lines := bufio.NewScanner(resp.Body)
	next := func() (string, string, string) {
		require.True(t, lines.Scan(), "stream ended: %v", lines.Err())
		var m struct {
			Result struct {
				Type      string         `json:"type"`
				Workspace map[string]any `json:"workspace"`
			} `json:"result"`
		}
		require.NoError(t, json.Unmarshal(lines.Bytes(), &m), lines.Text())
		id, _ := m.Result.Workspace["id"].(string)
		state, _ := m.Result.Workspace["state"].(string)
		return m.Result.Type, id, state
	}
	typ, id, _ := next()
	require.Equal(t, []string{"added", before}, []string{typ, id})
	typ, _, _ = next()
	require.Equal(t, "synced", typ)

	after := create(t, env, "after")["id"].(string)
	typ, id, state := next()
	require.Equal(t, []string{"added", after, "creating"}, []string{typ, id, state})
	report(t, env, after, 1, "running")
	typ, id, state = next()
	require.Equal(t, []string{"modified", after, "running"}, []string{typ, id, state})
}

func TestWatchOverGRPC(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := env.Client.WatchWorkspaces(ctx, &workspacev1.WatchWorkspacesRequest{})
	require.NoError(t, err)
	m, err := stream.Recv()
	require.NoError(t, err)
	require.Equal(t, "synced", m.Type, "an empty watch starts with the end of its snapshot")
	id := create(t, env, "grpc-watch")["id"].(string)
	m, err = stream.Recv()
	require.NoError(t, err)
	require.Equal(t, "added", m.Type)
	require.Equal(t, id, m.Workspace.Id)
}

func TestListPagingAndFilters(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	var ids []string
	for i := range 7 {
		ids = append(ids, create(t, env, fmt.Sprintf("ws-%d", i))["id"].(string))
	}
	report(t, env, ids[3], 1, "running")
	waitState(t, env, ids[3], "running")

	var got []string
	token := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		_, page := call(t, env, "GET", "/api/v1/workspaces?pageSize=3&pageToken="+token, nil)
		for _, w := range page["workspaces"].([]any) {
			got = append(got, w.(map[string]any)["id"].(string))
		}
		token = page["next_page_token"].(string)
		if token == "" {
			break
		}
	}
	require.Equal(t, ids, got, "stable creation order across pages")

	_, page := call(t, env, "GET", "/api/v1/workspaces?state=running", nil)
	require.Len(t, page["workspaces"], 1)
	_, page = call(t, env, "GET", "/api/v1/workspaces?search=WS-5", nil)
	require.Len(t, page["workspaces"], 1)
	_, page = call(t, env, "GET", "/api/v1/workspaces?provisioner=kubernetes", nil)
	require.Len(t, page["workspaces"], 0)
}

func TestWatchErrorsUseTheErrorBody(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	code, body := call(t, env, "GET", "/api/v1/workspaces:watch?id=aaaaaaaaaaaaaaaaaaaa", nil)
	require.Equal(t, http.StatusNotFound, code)
	require.Equal(t, "WORKSPACE_NOT_FOUND", body["code"])
	require.Equal(t, "id", body["field"])
}

func TestWatchOfEmptyListConnectsAtOnce(t *testing.T) {
	env := apitest.Start(t, apitest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", env.URL+"/api/v1/workspaces:watch", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req) // returns once headers arrive
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	require.JSONEq(t, `{"result":{"type":"synced","workspace":null}}`, line)
}

// TestQuotaHoldsAcrossReplicas: concurrent creates spread over two api
// replicas never overshoot an owner's quota, and a finished delete frees
// its place and its name at once.
func TestQuotaHoldsAcrossReplicas(t *testing.T) {
	cfg := orchestrator.DefaultConfig()
	cfg.SweepInterval = 50 * time.Millisecond
	cfg.MaxWorkspacesPerOwner = 3
	env, second := twoReplicas(t, &cfg)
	results, created := createConcurrently(t, 12, env, second, func(i int) string { return fmt.Sprintf("q%d", i) })
	require.Equal(t, map[string]int{"201": 3, "429 QUOTA_EXCEEDED": 9}, results)

	code, deleting := call(t, env, "DELETE", "/api/v1/workspaces/"+created[0], nil)
	require.Equal(t, http.StatusAccepted, code, "%v", deleting)
	code, w := call(t, second, "POST", "/api/v1/workspaces", map[string]any{"name": "while-deleting"})
	require.Equal(t, http.StatusTooManyRequests, code, "a workspace being deleted still counts: %v", w)
	report(t, env, created[0], generation(t, deleting), "deleted")
	require.Eventually(t, func() bool { c, _ := get(t, env, created[0]); return c == http.StatusNotFound }, 10*time.Second, 20*time.Millisecond)
	create(t, second, deleting["name"].(string)) // its name and its place are free again
	code, w = call(t, env, "POST", "/api/v1/workspaces", map[string]any{"name": "one-too-many"})
	require.Equal(t, http.StatusTooManyRequests, code, "%v", w)
}

// TestConcurrentCreatesOfOneName: a name is claimed once, however many
// creates race for it over two replicas.
func TestConcurrentCreatesOfOneName(t *testing.T) {
	env, second := twoReplicas(t, nil)
	results, _ := createConcurrently(t, 10, env, second, func(int) string { return "twin" })
	require.Equal(t, map[string]int{"201": 1, "409 WORKSPACE_NAME_CONFLICT": 9}, results)
}

// twoReplicas starts an api service and a second replica on its NATS; the
// second Env differs only in its URL.
func twoReplicas(t *testing.T, cfg *orchestrator.Config) (*apitest.Env, *apitest.Env) {
	env := apitest.Start(t, apitest.Options{Orchestrator: cfg})
	second := *env
	second.URL = "http://" + apitest.Attach(t, env).HTTPAddr
	return env, &second
}

// createConcurrently sends n creates at once, alternating between a and b,
// and counts the answers by status and code; it returns the created ids.
func createConcurrently(t *testing.T, n int, a, b *apitest.Env, name func(int) string) (map[string]int, []string) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		results = map[string]int{}
		created []string
	)
	for i := range n {
		wg.Go(func() {
			env := a
			if i%2 == 1 {
				env = b
			}
			code, w := call(t, env, "POST", "/api/v1/workspaces", map[string]any{"name": name(i)})
			mu.Lock()
			defer mu.Unlock()
			if code == http.StatusCreated {
				created = append(created, w["id"].(string))
				results["201"]++
				return
			}
			results[fmt.Sprintf("%d %v", code, w["code"])]++
		})
	}
	wg.Wait()
	return results, created
}
