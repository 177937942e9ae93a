package provisioner_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/bus"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/apitest"
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
	running := apitest.WaitWrite(t, watch, w.Id, "running")
	cancel()
	measured := running.UpdateTime.AsTime().Sub(w.CreateTime.AsTime())

	tl := h.api.Timeline(t, w.Id)
	require.Len(t, tl, 1)
	create := tl[0]
	require.Equal(t, "creating", create.State)
	require.Equal(t, "running", create.Result)
	require.Equal(t, w.CreateTime.AsTime(), create.StartTime.AsTime())
	require.False(t, create.EndTime.AsTime().After(running.UpdateTime.AsTime()), "the transition ended when running was recorded")
	apitest.RequireOrdered(t, create)

	got := apitest.StepNames(create)
	want := []string{"requested", "volume_ready", "networks_ready", "image_present"}
	for _, s := range []string{"gateway", "runtime", "terminal", "browser", "canvas"} {
		want = append(want, "container_created "+s, "container_started "+s)
	}
	for _, s := range workspace.Services {
		want = append(want, "health_check_passed "+string(s))
	}
	want = append(want, "running")
	for _, s := range want {
		require.GreaterOrEqual(t, apitest.IndexStep(got, s), 0, "step %q missing from %v", s, got)
	}
	require.Equal(t, "requested", got[0])
	require.Equal(t, "running", got[len(got)-1])
	// Volume, then networks, then images, then containers, then health.
	order := []string{"volume_ready", "networks_ready", "image_present", "container_created", "health_check_passed", "running"}
	last := -1
	for _, o := range order {
		i := apitest.IndexStep(got, o)
		require.Greater(t, i, last, "%s out of order in %v", o, got)
		last = i
	}

	// The steps cover the time to running: what they leave uncovered is
	// the provisioner's own bookkeeping between Docker calls.
	covered := apitest.Coverage(create)
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

	tl = h.api.Timeline(t, w.Id)
	require.Len(t, tl, 3)
	stop, start := tl[1], tl[2]
	require.Equal(t, []string{"stopping", "stopped"}, []string{stop.State, stop.Result})
	require.Equal(t, []string{"starting", "running"}, []string{start.State, start.Result})
	require.Greater(t, start.Generation, stop.Generation)
	apitest.RequireOrdered(t, stop)
	apitest.RequireOrdered(t, start)
	require.Contains(t, apitest.StepNames(stop), "container_stopped runtime")
	require.Contains(t, apitest.StepNames(stop), "container_stopped gateway")
	require.Equal(t, "stopped", apitest.StepNames(stop)[len(stop.Steps)-1])
	require.Contains(t, apitest.StepNames(start), "container_started runtime")
	require.Contains(t, apitest.StepNames(start), "health_check_passed runtime")
	require.Contains(t, apitest.StepNames(start), "firewall_applied")
	require.NotContains(t, apitest.StepNames(start), "container_created runtime", "start keeps the containers")

	_, err = h.api.Client.RestartWorkspace(ctx, &workspacev1.RestartWorkspaceRequest{Id: w.Id})
	require.NoError(t, err)
	h.waitState(w.Id, "running")
	tl = h.api.Timeline(t, w.Id)
	require.Len(t, tl, workspace.MaxTransitions)
	require.Equal(t, []string{"stopping", "starting", "restarting"}, []string{tl[0].State, tl[1].State, tl[2].State}, "the oldest is dropped")
	require.Contains(t, apitest.StepNames(tl[2]), "container_created runtime", "a restart replaces the service containers")
	require.Contains(t, apitest.StepNames(tl[2]), "health_check_passed runtime")
}
