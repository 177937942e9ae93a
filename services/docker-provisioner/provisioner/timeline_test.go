package provisioner_test

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/workspace"
)

// The timeline of a create lists its steps in order, each with a duration,
// and together they cover the measured time to running; stop and start are
// transitions of their own (a start writing the firewall policy shows it),
// and only the last three are kept.
func TestTimelineOfCreateStopStart(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.startProvisioner()
	ctx := context.Background()

	// The watch sees the write that made the workspace running, whose
	// update_time is when the orchestrator recorded it (or, should the
	// index fold it into the next write, moments later).
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch, err := h.api.Client.WatchWorkspaces(wctx, &workspacev1.WatchWorkspacesRequest{})
	require.NoError(t, err)
	w := h.create("timeline", true)
	var running *workspacev1.Workspace
	for running == nil {
		c, err := watch.Recv()
		require.NoError(t, err)
		if ws := c.GetWorkspace(); ws.GetId() == w.Id && ws.State == "running" {
			running = ws
		}
	}
	cancel()
	measured := running.UpdateTime.AsTime().Sub(w.CreateTime.AsTime())

	tl := h.timeline(w.Id)
	require.Len(t, tl, 1)
	create := tl[0]
	require.Equal(t, "creating", create.State)
	require.Equal(t, "running", create.Result)
	require.Equal(t, w.CreateTime.AsTime(), create.StartTime.AsTime())
	require.False(t, create.EndTime.AsTime().After(running.UpdateTime.AsTime()), "the transition ended when running was recorded")
	requireOrdered(t, create)

	got := stepNames(create)
	want := []string{"requested", "volume_ready", "networks_ready", "image_present"}
	for _, s := range []string{"gateway", "runtime", "terminal", "browser", "canvas"} {
		want = append(want, "container_created "+s, "container_started "+s)
	}
	for _, s := range workspace.Services {
		want = append(want, "health_check_passed "+string(s))
	}
	want = append(want, "running")
	for _, s := range want {
		require.GreaterOrEqual(t, indexStep(got, s), 0, "step %q missing from %v", s, got)
	}
	require.Equal(t, "requested", got[0])
	require.Equal(t, "running", got[len(got)-1])
	// Volume, then networks, then images, then containers, then health.
	order := []string{"volume_ready", "networks_ready", "image_present", "container_created", "health_check_passed", "running"}
	last := -1
	for _, o := range order {
		i := indexStep(got, o)
		require.Greater(t, i, last, "%s out of order in %v", o, got)
		last = i
	}

	// The steps cover the time to running: what they leave uncovered is
	// the provisioner's own bookkeeping between Docker calls.
	covered := coverage(create)
	gap := measured - covered
	t.Logf("time to running %s, covered by steps %s, uncovered %s", measured, covered, gap)
	require.GreaterOrEqual(t, gap, time.Duration(0), "steps outside the transition")
	require.LessOrEqual(t, gap, max(250*time.Millisecond, measured/10), "the steps leave too much of the time to running unexplained: %v", got)

	_, err = h.api.Client.StopWorkspace(ctx, &workspacev1.StopWorkspaceRequest{Id: w.Id})
	require.NoError(t, err)
	h.waitState(w.Id, "stopped")
	// The firewall service's policy is there by the start (no firewall
	// service runs here: the test stores it as that service would).
	fp := &eventsv1.FirewallPolicy{WorkspaceId: w.Id, Revision: w.FirewallStatus.Revision,
		Workspace: &eventsv1.GroupPolicy{NetworkAccessEnabled: true, Mode: "allowlist", AllowedDomains: []string{"pypi.org"}},
		Browser:   &eventsv1.GroupPolicy{NetworkAccessEnabled: true, Mode: "deny", AllowedDomains: []string{}}}
	kv, err := h.api.JS.KeyValue(ctx, bus.BucketFirewall)
	require.NoError(t, err)
	data, err := proto.Marshal(fp)
	require.NoError(t, err)
	_, err = kv.Put(ctx, w.Id, data)
	require.NoError(t, err)
	_, err = h.api.Client.StartWorkspace(ctx, &workspacev1.StartWorkspaceRequest{Id: w.Id})
	require.NoError(t, err)
	h.waitState(w.Id, "running")

	tl = h.timeline(w.Id)
	require.Len(t, tl, 3)
	stop, start := tl[1], tl[2]
	require.Equal(t, []string{"stopping", "stopped"}, []string{stop.State, stop.Result})
	require.Equal(t, []string{"starting", "running"}, []string{start.State, start.Result})
	require.Greater(t, start.Generation, stop.Generation)
	requireOrdered(t, stop)
	requireOrdered(t, start)
	require.Contains(t, stepNames(stop), "container_stopped runtime")
	require.Contains(t, stepNames(stop), "container_stopped gateway")
	require.Equal(t, "stopped", stepNames(stop)[len(stop.Steps)-1])
	require.Contains(t, stepNames(start), "container_started runtime")
	require.Contains(t, stepNames(start), "health_check_passed runtime")
	require.Contains(t, stepNames(start), "firewall_applied")
	require.NotContains(t, stepNames(start), "container_created runtime", "start keeps the containers")

	_, err = h.api.Client.RestartWorkspace(ctx, &workspacev1.RestartWorkspaceRequest{Id: w.Id})
	require.NoError(t, err)
	h.waitState(w.Id, "running")
	tl = h.timeline(w.Id)
	require.Len(t, tl, workspace.MaxTransitions)
	require.Equal(t, []string{"stopping", "starting", "restarting"}, []string{tl[0].State, tl[1].State, tl[2].State}, "the oldest is dropped")
	require.Contains(t, stepNames(tl[2]), "container_created runtime", "a restart replaces the service containers")
	require.Contains(t, stepNames(tl[2]), "health_check_passed runtime")
}

func (h *harness) timeline(id string) []*workspacev1.Transition {
	h.t.Helper()
	resp, err := h.api.Client.GetWorkspaceTimeline(context.Background(), &workspacev1.GetWorkspaceTimelineRequest{Id: id})
	require.NoError(h.t, err)
	require.Equal(h.t, id, resp.Id)
	return resp.Transitions
}

// requireOrdered checks every step has a start and a duration, in order of
// start, within the transition.
func requireOrdered(t *testing.T, tr *workspacev1.Transition) {
	t.Helper()
	for i, s := range tr.Steps {
		require.NotNil(t, s.StartTime, "step %d %s", i, s.Name)
		require.NotNil(t, s.Duration, "step %d %s", i, s.Name)
		require.GreaterOrEqual(t, s.Duration.AsDuration(), time.Duration(0))
		require.False(t, s.StartTime.AsTime().Before(tr.StartTime.AsTime()), "step %s starts before the transition", s.Name)
		require.False(t, s.StartTime.AsTime().Add(s.Duration.AsDuration()).After(tr.EndTime.AsTime()), "step %s ends after the transition", s.Name)
		if i > 0 {
			require.False(t, s.StartTime.AsTime().Before(tr.Steps[i-1].StartTime.AsTime()), "step %s out of order", s.Name)
		}
	}
}

// indexStep is the index of the first step named s ("name" or "name target"),
// whatever its target when s has none; -1 if none.
func indexStep(steps []string, s string) int {
	return slices.IndexFunc(steps, func(g string) bool { return g == s || strings.HasPrefix(g, s+" ") })
}

func stepNames(tr *workspacev1.Transition) []string {
	var out []string
	for _, s := range tr.Steps {
		n := s.Name
		if s.Target != "" {
			n += " " + s.Target
		}
		out = append(out, n)
	}
	return out
}

// coverage is how much of the transition its steps cover (parallel steps
// counted once).
func coverage(tr *workspacev1.Transition) time.Duration {
	type span struct{ from, to time.Time }
	var spans []span
	for _, s := range tr.Steps {
		spans = append(spans, span{s.StartTime.AsTime(), s.StartTime.AsTime().Add(s.Duration.AsDuration())})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
	var total time.Duration
	var cur span
	for i, s := range spans {
		switch {
		case i == 0:
			cur = s
		case s.from.After(cur.to):
			total += cur.to.Sub(cur.from)
			cur = s
		case s.to.After(cur.to):
			cur.to = s.to
		}
	}
	return total + cur.to.Sub(cur.from)
}
