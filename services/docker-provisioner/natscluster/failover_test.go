package natscluster_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/event"
	"aileron.dev/pkg/store"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/orchestrator"
	"aileron.dev/services/docker-provisioner/provisioner"
	"aileron.dev/services/firewall/firewall"
)

// Bounds of the waits: generous for a busy 2-core machine; the test's wall
// time is what the failovers take, not these.
const (
	clusterWait  = 2 * time.Minute
	convergeWait = 3 * time.Minute
	pollEvery    = 250 * time.Millisecond
)

// Desired outcomes of the workload.
const (
	wantRunning = "running"
	wantStopped = "stopped"
	wantGone    = "gone"
)

// TestControlPlaneSurvivesNATSFailover runs a burst of creates, stops and
// deletes while the stream leader is killed and, later, a node is cut off
// its network, then reconnected and restarted. After recovery every
// acknowledged create exists exactly once, every workspace is in the state
// its last acknowledged command asked for (so every event was consumed), and
// Docker holds exactly the objects of the live workspaces.
func TestControlPlaneSurvivesNATSFailover(t *testing.T) {
	c := startCluster(t)
	js := c.setup(clusterWait)
	p := startPlane(t, c)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service warnings and errors (last 80):\n%s", p.logs.Problems(80))
		}
	})
	rec := newRecorder(p.client)
	probeCtx, stopProbe := context.WithCancel(context.Background())
	var probing sync.WaitGroup
	probing.Add(1)
	go func() { defer probing.Done(); rec.probe(probeCtx, 200*time.Millisecond) }()
	defer func() { stopProbe(); probing.Wait() }()
	w := &workload{t: t, rec: rec, ids: map[string]string{}, want: map[string]string{}}

	// Baseline: two workspaces on a healthy cluster.
	w.burst(wantRunning, "a1", "a2")
	w.waitDesired(p, convergeWait)
	t.Logf("clients connected to %v", p.servers())

	// 1. Kill the stream leader in the middle of a burst of creates, some
	// deleted as soon as they are acknowledged.
	leader := c.byName(waitStreamLeader(t, js, ""))
	rec.setPhase("leader killed")
	done := w.burstAsync(map[string][]string{wantRunning: {"b1", "b2"}, wantGone: {"c1", "c2"}})
	killed := time.Now()
	c.kill(leader)
	newLeader := waitStreamLeader(t, js, leader.name)
	electedIn := time.Since(killed)
	done.Wait()
	t.Logf("killed stream leader %s; %s leads after %s; clients on %v", leader.name, newLeader, electedIn.Round(time.Millisecond), p.servers())

	// 2. Bring it back; the cluster is whole again when every stream and
	// consumer has three current replicas.
	rec.setPhase("killed node restarted")
	c.start(leader)
	rejoinedIn := waitHealthy(t, js, clusterWait)
	t.Logf("%s restarted; every replica current after %s", leader.name, rejoinedIn.Round(time.Millisecond))

	// 3. Cut off the node the api is connected to, during stops of the b
	// workspaces and another burst of creates and deletes.
	w.waitDesired(p, convergeWait) // b1, b2 running: stop is accepted from running
	target := c.byName(p.conns["api"].ConnectedServerName())
	rec.setPhase("node partitioned")
	cut := time.Now()
	c.partition(target)
	done = w.burstAsync(map[string][]string{wantRunning: {"d1", "d2"}, wantGone: {"e1", "e2"}})
	w.stopAsync(done, "b1", "b2")
	moved := waitMoved(t, p, target.name)
	done.Wait()
	t.Logf("partitioned %s; clients moved after %v; every operation of the phase acknowledged after %s", target.name, moved, time.Since(cut).Round(time.Millisecond))

	// 4. Reconnect and restart it.
	rec.setPhase("node healed")
	c.heal(target)
	healedIn := waitHealthy(t, js, clusterWait)
	t.Logf("%s reconnected and restarted; every replica current after %s", target.name, healedIn.Round(time.Millisecond))

	// Recovery: every workspace reaches what its last command asked for.
	rec.setPhase("recovery")
	w.waitDesired(p, convergeWait)
	stopProbe()
	probing.Wait()

	w.requireExactlyOnce(p)
	w.requireDockerMatches(p)
	requireEventsConsumed(t, js, w, p.cfg.Consumer)
	t.Logf("client view by phase (latency includes the client's retries; attempt timeout %s):\n%s",
		attemptTimeout, rec.summary([]string{"baseline", "leader killed", "killed node restarted", "node partitioned", "node healed", "recovery"}))
	t.Logf("service log: %d event publishes failed and were retried by the sweeper, %d handler retries (nak), %d consumer fetch errors",
		p.logs.Count("event publish failed"), p.logs.Count("message will be retried"), p.logs.Count("consumer next failed"))
}

// workload is the test's client side: the workspaces it created and what it
// last asked of each.
type workload struct {
	t   testing.TB
	rec *recorder

	mu   sync.Mutex
	ids  map[string]string // name -> id, once the create was acknowledged
	want map[string]string // name -> wantRunning, wantStopped or wantGone
}

func (w *workload) burst(desired string, names ...string) {
	w.burstAsync(map[string][]string{desired: names}).Wait()
}

// burstAsync creates each named workspace concurrently (deleting those
// wanted gone as soon as the create is acknowledged); Wait returns when
// every operation was acknowledged, and fails the test when one never was.
func (w *workload) burstAsync(byWant map[string][]string) *sync.WaitGroup {
	var wg sync.WaitGroup
	for desired, names := range byWant {
		for _, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, err := w.rec.create(name)
				if !assert.NoError(w.t, err, "create %s was never acknowledged", name) {
					return
				}
				w.mu.Lock()
				w.ids[name], w.want[name] = id, wantRunning
				w.mu.Unlock()
				if desired == wantGone {
					if assert.NoError(w.t, w.rec.delete(id), "delete %s (%s) was never acknowledged", name, id) {
						w.mu.Lock()
						w.want[name] = wantGone
						w.mu.Unlock()
					}
				}
			}()
		}
	}
	return &wg
}

// stopAsync stops the named (running) workspaces, adding to wg.
func (w *workload) stopAsync(wg *sync.WaitGroup, names ...string) {
	for _, name := range names {
		w.mu.Lock()
		id, ok := w.ids[name]
		w.mu.Unlock()
		if !ok {
			continue // its create failed, and said so
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if assert.NoError(w.t, w.rec.stop(id), "stop %s (%s) was never acknowledged", name, id) {
				w.mu.Lock()
				w.want[name] = wantStopped
				w.mu.Unlock()
			}
		}()
	}
}

// waitDesired polls until every workspace is where its last acknowledged
// command sends it: running or stopped as observed by the provisioner (its
// observed generation is the current one), or gone.
func (w *workload) waitDesired(p *plane, within time.Duration) {
	w.t.Helper()
	w.mu.Lock()
	ids, want := maps.Clone(w.ids), maps.Clone(w.want)
	w.mu.Unlock()
	last := map[string]string{}
	ok := assert.Eventually(w.t, func() bool {
		all := true
		for name, id := range ids {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			resp, err := p.client.GetWorkspace(ctx, &workspacev1.GetWorkspaceRequest{Id: id})
			cancel()
			var reached bool
			switch {
			case status.Code(err) == codes.NotFound:
				last[name], reached = "gone", want[name] == wantGone
			case err != nil:
				last[name] = "GET failed: " + status.Code(err).String()
			default:
				ws := resp.GetWorkspace()
				last[name] = fmt.Sprintf("%s (generation %d, observed %d, %s)", ws.GetState(), ws.GetGeneration(), ws.GetObservedGeneration(), ws.GetStateReason())
				reached = ws.GetState() == want[name] && ws.GetObservedGeneration() == ws.GetGeneration()
			}
			all = all && reached
		}
		return all
	}, within, pollEvery)
	if !ok {
		var lines []string
		for _, name := range slices.Sorted(maps.Keys(last)) {
			lines = append(lines, fmt.Sprintf("  %s (%s): want %s, last seen %s", name, ids[name], want[name], last[name]))
		}
		w.t.Fatalf("workspaces did not reach their desired state within %s:\n%s", within, strings.Join(lines, "\n"))
	}
}

// requireExactlyOnce checks the list: each acknowledged create that was not
// deleted is there once, under the id the client was given, and nothing else.
func (w *workload) requireExactlyOnce(p *plane) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, err := listAll(ctx, p.client)
	require.NoError(w.t, err)
	got := map[string][]string{}
	for _, x := range ws {
		got[x.GetName()] = append(got[x.GetName()], x.GetId())
	}
	want := map[string][]string{}
	for name, id := range w.ids {
		if w.want[name] != wantGone {
			want[name] = []string{id}
		}
	}
	require.Equal(w.t, want, got, "workspaces in the list (name -> ids)")
}

// requireDockerMatches checks the engine: every container, network and
// volume of the provisioner's instance belongs to a live workspace, no
// service has two containers, a running workspace's containers all run and
// a stopped one's do not, and each live workspace has its data volume.
func (w *workload) requireDockerMatches(p *plane) {
	w.t.Helper()
	ctx := context.Background()
	live := map[string]string{} // id -> want
	for name, id := range w.ids {
		if w.want[name] != wantGone {
			live[id] = w.want[name]
		}
	}
	f := filters.NewArgs(filters.Arg("label", provisioner.LabelInstance+"="+p.cfg.Instance))
	cs, err := docker.ContainerList(ctx, container.ListOptions{All: true, Filters: f})
	require.NoError(w.t, err)
	perService := map[string]int{}
	for _, ctr := range cs {
		id := ctr.Labels[provisioner.LabelWorkspaceID]
		want, ok := live[id]
		if !assert.True(w.t, ok, "container %s of workspace %s, which is gone", ctr.Names, id) {
			continue
		}
		key := id + "/" + ctr.Labels[provisioner.LabelRole] + "/" + ctr.Labels[provisioner.LabelService]
		perService[key]++
		assert.Equal(w.t, 1, perService[key], "two containers for %s", key)
		assert.Equal(w.t, want == wantRunning, ctr.State == "running", "container %s of a workspace that should be %s is %s", ctr.Names, want, ctr.State)
	}
	ns, err := docker.NetworkList(ctx, network.ListOptions{Filters: f})
	require.NoError(w.t, err)
	for _, n := range ns {
		_, ok := live[n.Labels[provisioner.LabelWorkspaceID]]
		assert.True(w.t, ok, "network %s of a workspace that is gone", n.Name)
	}
	vs, err := docker.VolumeList(ctx, volume.ListOptions{Filters: f})
	require.NoError(w.t, err)
	vols := map[string]bool{}
	for _, v := range vs.Volumes {
		_, ok := live[v.Labels[provisioner.LabelWorkspaceID]]
		assert.True(w.t, ok, "volume %s of a workspace that is gone", v.Name)
		vols[v.Name] = true
	}
	for id, want := range live {
		assert.True(w.t, vols[provisioner.VolumeName(id)], "workspace %s (%s) has no data volume", id, want)
		if want == wantRunning {
			for _, s := range []workspace.Service{workspace.ServiceRuntime, workspace.ServiceTerminal, workspace.ServiceBrowser} {
				name := provisioner.ContainerName(s, id)
				assert.True(w.t, slices.ContainsFunc(cs, func(c container.Summary) bool { return slices.Contains(c.Names, "/"+name) }),
					"running workspace %s has no container %s", id, name)
			}
		}
	}
}

// requireEventsConsumed checks that no event is lost or left behind: every
// durable consumer has delivered and seen acknowledged everything; each live
// workspace's last event (the outbox in its record) is in the stream and its
// firewall policy in its bucket; each deleted one's last event is deleted
// and its policy is purged.
func requireEventsConsumed(t testing.TB, js jetstream.JetStream, w *workload, provConsumer string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, js)
	require.NoError(t, err)
	stream, err := js.Stream(ctx, bus.StreamName)
	require.NoError(t, err)
	policies, err := js.KeyValue(ctx, bus.BucketFirewall)
	require.NoError(t, err)
	// The api's sweeper may still be publishing an event whose write landed
	// late (its answer lost in the partition), which the consumers then
	// deliver: the records, the stream and the consumers are polled until
	// they agree.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for name, id := range w.ids {
			_, perr := policies.Get(ctx, id)
			m, err := stream.GetLastMsgForSubject(ctx, event.WorkspaceIDFilter(workspace.ProvisionerDocker, id))
			require.NoError(c, err, "no event of %s in the stream", name)
			if w.want[name] == wantGone {
				// The deleted event is the last word on a workspace whose
				// record is gone; the firewall service purges its policy on it.
				require.True(c, strings.HasSuffix(m.Subject, "."+event.TypeDeleted), "last event of deleted %s (%s) is %s", name, id, m.Subject)
				require.ErrorIs(c, perr, jetstream.ErrKeyNotFound, "firewall policy of deleted %s (%s) left behind", name, id)
				continue
			}
			require.NoError(c, perr, "no firewall policy for %s (%s)", name, id)
			rec, err := st.Get(ctx, id)
			require.NoError(c, err)
			ev := &eventsv1.WorkspaceEvent{}
			require.NoError(c, proto.Unmarshal(m.Data, ev))
			require.Equal(c, rec.GetEventSequence(), ev.GetSequence(), "last event of %s (%s) in the stream vs. in its record", name, id)
		}
		for _, name := range []string{provConsumer, firewall.Consumer, orchestrator.StatusConsumer} {
			info, err := js.Consumer(ctx, bus.StreamName, name)
			require.NoError(c, err, name)
			ci, err := info.Info(ctx)
			require.NoError(c, err, name)
			require.True(c, ci.NumPending == 0 && ci.NumAckPending == 0 && ci.NumRedelivered == 0,
				"consumer %s did not drain: %d pending, %d unacknowledged, %d redelivered", name, ci.NumPending, ci.NumAckPending, ci.NumRedelivered)
		}
	}, time.Minute, pollEvery)
}

// waitStreamLeader polls until the event stream has a leader other than
// not, and returns its server name.
func waitStreamLeader(t testing.TB, js jetstream.JetStream, not string) string {
	t.Helper()
	var leader string
	ok := assert.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, bus.StreamName)
		if err != nil || s.CachedInfo().Cluster == nil {
			return false
		}
		leader = s.CachedInfo().Cluster.Leader
		return leader != "" && leader != not
	}, clusterWait, pollEvery)
	if !ok {
		t.Fatalf("the stream has no leader but %q within %s", not, clusterWait)
	}
	return leader
}

// waitHealthy polls until every stream and bucket and the services'
// consumers have a leader and two current followers; it returns how long
// that took.
func waitHealthy(t testing.TB, js jetstream.JetStream, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	check := func(what string, ci *jetstream.ClusterInfo) bool {
		if ci == nil || ci.Leader == "" || len(ci.Replicas) != 2 {
			last = fmt.Sprintf("%s: %+v", what, ci)
			return false
		}
		for _, r := range ci.Replicas {
			if !r.Current || r.Offline {
				last = fmt.Sprintf("%s: replica %s current=%t offline=%t lag=%d", what, r.Name, r.Current, r.Offline, r.Lag)
				return false
			}
		}
		return true
	}
	ok := assert.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, name := range []string{bus.StreamName, bus.AuditStreamName, "KV_" + bus.BucketWorkspaces, "KV_" + bus.BucketFirewall, "KV_" + bus.BucketSecrets} {
			s, err := js.Stream(ctx, name)
			if err != nil {
				last = name + ": " + err.Error()
				return false
			}
			if !check(name, s.CachedInfo().Cluster) {
				return false
			}
		}
		for _, name := range []string{"docker-provisioner-events", firewall.Consumer, orchestrator.StatusConsumer} {
			cons, err := js.Consumer(ctx, bus.StreamName, name)
			if err != nil {
				last = name + ": " + err.Error()
				return false
			}
			if !check(name, cons.CachedInfo().Cluster) {
				return false
			}
		}
		return true
	}, within, pollEvery)
	if !ok {
		t.Fatalf("the cluster did not heal within %s: %s", within, last)
	}
	return time.Since(start)
}

// waitMoved polls until no service is connected to the cut-off server and
// returns how long each took.
func waitMoved(t testing.TB, p *plane, server string) map[string]time.Duration {
	t.Helper()
	start := time.Now()
	out := map[string]time.Duration{}
	ok := assert.Eventually(t, func() bool {
		for name, nc := range p.conns {
			if _, done := out[name]; !done && nc.ConnectedServerName() != server && nc.IsConnected() {
				out[name] = time.Since(start).Round(time.Millisecond)
			}
		}
		return len(out) == len(p.conns)
	}, clusterWait, pollEvery)
	if !ok {
		t.Fatalf("services still on %s after %s: %v", server, clusterWait, p.servers())
	}
	return out
}
