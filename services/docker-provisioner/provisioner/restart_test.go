package provisioner_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	eventsv1 "aileron.dev/gen/aileron/events/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/event"
	"aileron.dev/services/api/orchestrator"
	"aileron.dev/services/docker-provisioner/provisioner"

	"aileron.dev/pkg/workspace"
)

func TestRestartOneServiceRestartsOnlyIt(t *testing.T) {
	h := newHarness(t, nil, nil)
	h.startProvisioner()
	ctx := context.Background()
	w := h.create("restart-one", true)
	h.waitState(w.Id, "running")
	before := containersOf(t, w.Id)

	for _, svc := range []workspace.Service{workspace.ServiceRuntime, workspace.ServiceBrowser} {
		_, err := h.api.Client.RestartService(ctx, &workspacev1.RestartServiceRequest{Id: w.Id, Service: string(svc)})
		require.NoError(t, err)
		w = h.waitState(w.Id, "running")
		after := containersOf(t, w.Id)
		restarted := provisioner.ContainerName(svc, w.Id)
		for name, c := range after {
			if name == restarted {
				require.NotEqual(t, before[name].State.StartedAt, c.State.StartedAt, "%s was not restarted", name)
				continue
			}
			require.Equal(t, before[name].State.StartedAt, c.State.StartedAt, "%s restarted with %s", name, svc)
			require.Equal(t, before[name].ID, c.ID)
		}
		require.Equal(t, "running", orchestrator.ServiceByName(w.GetServices(), svc).State)
		require.NotNil(t, orchestrator.ServiceByName(w.GetServices(), svc).LastRestartTime)
		before = after
	}

	// A redelivered restart event is a hint only: the restart already
	// happened for this request, so nothing restarts again.
	ev := &eventsv1.WorkspaceEvent{Id: w.Id + "-dup", Type: event.TypeServiceRestartRequested, Workspace: w, Service: "runtime"}
	passes := h.logs.Count("workspace reconciled", w.Id)
	require.NoError(t, event.Publish(ctx, h.api.JS, event.WorkspaceSubject("docker", w.Id, ev.Type), ev.Id, ev))
	require.Eventually(t, func() bool { return h.logs.Count("workspace reconciled", w.Id) > passes }, waitFor, tick)
	again := containersOf(t, w.Id)
	for name, c := range again {
		require.Equal(t, before[name].State.StartedAt, c.State.StartedAt, "%s restarted by a redelivered event", name)
	}
	require.Len(t, again, 5)
}
