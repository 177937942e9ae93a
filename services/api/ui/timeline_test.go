package ui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/event"
)

// TestConsoleTimeline: the workspace page draws the timeline as a waterfall
// that follows the workspace live — an under-way create, then the
// provisioner's steps and running — with each bar placed by its start and
// sized by its duration, under the strict CSP.
func TestConsoleTimeline(t *testing.T) {
	env := startConsole(t)
	ctx := browser(t)
	do := steps(t, ctx)
	w := create(t, env, &workspacev1.CreateWorkspaceRequest{Name: "timeline-demo", CanvasEnabled: true})

	do("open the workspace", chromedp.Navigate(env.URL+"/workspaces/"+w.Id),
		visible(`#timeline-steps[data-transition="creating"][data-result=""] .tl-row[data-step="requested"]`))

	// What the docker provisioner reports, spread over the time since the
	// create: volume and networks, the image, the containers in parallel,
	// then each health check from its container's start.
	now := time.Now()
	c := w.CreateTime.AsTime()
	at := func(f float64) time.Time { return c.Add(time.Duration(f * float64(now.Sub(c)))) }
	var ss []*workspacev1.TimelineStep
	add := func(name, target string, from, to float64) {
		ss = append(ss, &workspacev1.TimelineStep{Name: name, Target: target, StartTime: timestamppb.New(at(from)),
			Duration: durationpb.New(at(to).Sub(at(from))), Reporter: "docker-provisioner"})
	}
	add("volume_ready", "", 0.05, 0.08)
	add("networks_ready", "", 0.08, 0.2)
	add("image_present", "aileron/workspace-runtime:dev", 0.2, 0.22)
	for i, s := range []string{"gateway", "runtime", "terminal", "browser", "canvas"} {
		add("container_created", s, 0.22, 0.3+0.01*float64(i))
		add("container_started", s, 0.3+0.01*float64(i), 0.45+0.02*float64(i))
	}
	add("firewall_applied", "", 0.31, 0.33)
	for i, s := range []string{"runtime", "terminal", "browser", "canvas"} {
		add("health_check_passed", s, 0.47+0.02*float64(i), 0.7+0.08*float64(i))
	}
	r := &eventsv1.StatusReport{WorkspaceId: w.Id, ObservedGeneration: w.Generation, Phase: "running",
		Reason: "all services running and healthy", Services: runningServices(w.Id, true), Reporter: "test", Time: timestamppb.Now(), Steps: ss}
	require.NoError(t, event.Publish(context.Background(), env.JS, event.StatusSubject(w.Id), w.Id+"-running-steps", r))

	rows := len(ss) + 2 // requested and running around the provisioner's steps
	do("the waterfall follows live", visible(`#timeline-steps[data-result="running"]`),
		waitJS(fmt.Sprintf(`document.querySelectorAll('#timeline-steps .tl-row').length === %d`, rows)))
	names := eval[[]string](t, ctx, `[...document.querySelectorAll('#timeline-steps .tl-row')].map(r => r.dataset.step)`)
	require.Equal(t, "requested", names[0])
	require.Equal(t, "running", names[len(names)-1])
	require.Contains(t, text(t, ctx, `#timeline-transition`), "creating → running")

	// Each bar sits where its step started and is as wide as it lasted, on
	// a scale of 1000 for the whole transition.
	resp, err := env.Client.GetWorkspaceTimeline(context.Background(), &workspacev1.GetWorkspaceTimelineRequest{Id: w.Id})
	require.NoError(t, err)
	tr := resp.Transitions[0]
	total := tr.EndTime.AsTime().Sub(tr.StartTime.AsTime())
	bars := eval[[][2]float64](t, ctx, `[...document.querySelectorAll('#timeline-steps .tl-rect')].map(r => [+r.getAttribute('x'), +r.getAttribute('width')])`)
	require.Len(t, bars, len(tr.Steps))
	// JavaScript dates have millisecond precision: up to a millisecond off
	// at each end of a bar.
	delta := 1 + 2*1000*float64(time.Millisecond)/float64(total)
	for i, s := range tr.Steps {
		x := 1000 * float64(s.StartTime.AsTime().Sub(tr.StartTime.AsTime())) / float64(total)
		wd := max(3, 1000*float64(s.Duration.AsDuration())/float64(total))
		require.InDelta(t, x, bars[i][0], delta, "x of %s %s", s.Name, s.Target)
		require.InDelta(t, wd, bars[i][1], delta, "width of %s %s", s.Name, s.Target)
	}
	require.Greater(t, eval[float64](t, ctx, `document.querySelector('#timeline-steps .tl-row[data-step="health_check_passed"][data-target="canvas"] .tl-bar').getBoundingClientRect().width`), 100.0,
		"the bars are drawn at a visible size")
	screenshot(t, ctx, "workspace-timeline.png")

	// A stop is a transition of its own; the picker still shows the create.
	do("stop", chromedp.Click(chromedp.CSS(`#action-stop`)), visible(`#timeline-steps[data-transition="stopping"]`))
	report(t, env, w.Id, "stopped", "all containers stopped; data kept", nil)
	do("stopped", visible(`#timeline-steps[data-transition="stopping"][data-result="stopped"]`))
	require.Equal(t, 2, eval[int](t, ctx, `document.querySelectorAll('#timeline-transition option').length`))
	do("pick the create", setValue(`#timeline-transition`, "0"), visible(`#timeline-steps[data-transition="creating"]`))

	if d, ok := diagnostics.Load(t); ok {
		for _, l := range d.(func() []string)() {
			require.False(t, strings.Contains(l, "Content Security Policy"), "CSP violation: %s", l)
		}
	}
}
