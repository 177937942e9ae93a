package provisioner_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/orchestrator"
	"aileron.dev/services/docker-provisioner/provisioner"
)

func TestFailingHealthCheckFailsWorkspace(t *testing.T) {
	failRuntime := func(c *provisioner.Config) {
		c.Services.Runtime.Env = map[string]string{"STUB_FAIL_HEALTH": "1"}
	}
	t.Run("provisioner health timeout", func(t *testing.T) {
		h := newHarness(t, func(c *provisioner.Config) {
			failRuntime(c)
			c.HealthTimeout = provisioner.Duration(3 * time.Second)
			c.HealthWait = provisioner.Duration(time.Second)
		}, nil)
		h.startProvisioner()
		w := h.create("unhealthy", false)
		w = h.waitState(w.Id, "failed")
		require.Equal(t, string(errcode.HealthCheckFailed), w.ErrorCode)
		require.Contains(t, w.StateReason, "health check of runtime failed")
		require.Contains(t, w.StateReason, "503")
		require.Equal(t, "failed", w.Services.Runtime.State)
		require.Equal(t, "running", w.Services.Terminal.State)

		// failed can be deleted.
		_, err := h.api.Client.DeleteWorkspace(context.Background(), &workspacev1.DeleteWorkspaceRequest{Id: w.Id})
		require.NoError(t, err)
		h.waitGone(w.Id)
		requireNothingLeft(t, w.Id)
	})
	t.Run("orchestrator deadline", func(t *testing.T) {
		oc := orchestrator.DefaultConfig()
		oc.SweepInterval = 100 * time.Millisecond
		oc.Deadlines[workspace.StateCreating] = 4 * time.Second
		h := newHarness(t, failRuntime, &oc)
		h.startProvisioner()
		w := h.create("unhealthy", false)
		require.Eventually(t, func() bool {
			w = h.get(w.Id)
			return w.State == "failed"
		}, waitFor, tick)
		require.Equal(t, "DEADLINE_EXCEEDED", w.ErrorCode)
		require.Contains(t, w.StateReason, "creating did not finish")
		// The service status says why: the provisioner keeps reporting it.
		require.Eventually(t, func() bool {
			w = h.get(w.Id)
			rt := w.Services.Runtime
			return rt.State == "starting" && strings.Contains(rt.Message, "waiting for health check") && strings.Contains(rt.Message, "503")
		}, waitFor, tick)
		require.Equal(t, "failed", w.State)
	})
}

func TestMissingImageFailsWithImagePullFailed(t *testing.T) {
	// A registry on a closed loopback port: the pull fails at once and
	// nothing leaves the machine.
	const missing = "127.0.0.1:1/aileron/missing:dev"
	h := newHarness(t, func(c *provisioner.Config) { c.Services.Runtime.Image = missing }, nil)
	h.startProvisioner()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	watch, err := h.api.Client.WatchWorkspaces(ctx, &workspacev1.WatchWorkspacesRequest{})
	require.NoError(t, err)
	w := h.create("no-image", false)
	// The runtime shows "pulling" before the workspace fails.
	var states []string
	for {
		ev, err := watch.Recv()
		require.NoError(t, err)
		states = append(states, ev.Workspace.GetServices().GetRuntime().GetState())
		if ev.Workspace.GetId() == w.Id && ev.Workspace.GetState() == "failed" {
			break
		}
	}
	require.Contains(t, states, "pulling")
	cancel()
	w = h.waitState(w.Id, "failed")
	require.Equal(t, string(errcode.ImagePullFailed), w.ErrorCode)
	require.Contains(t, w.StateReason, missing)
	require.Equal(t, "failed", w.Services.Runtime.State)
	require.Contains(t, w.Services.Runtime.Message, missing)
	require.Positive(t, h.logs.Count("pulling image", missing))
	require.Empty(t, containersOf(t, w.Id), "no service container without its image")
}
