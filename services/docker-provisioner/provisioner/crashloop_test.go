package provisioner_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/errcode"
	"aileron.dev/services/docker-provisioner/provisioner"
)

// TestExitedServiceIsRestartedThenCrashLoopFails: with the resync an hour
// away, a service killed behind the provisioner's back is started again at
// once (the engine's die event) while the workspace stays running; the
// crash_limit-th exit fails the workspace with CONTAINER_CRASH_LOOP naming
// the service, and a start brings it back.
func TestExitedServiceIsRestartedThenCrashLoopFails(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, func(c *provisioner.Config) { c.CrashLimit = 3 }, nil)
	h.startProvisioner()
	w := h.waitState(h.create("crashy", false).Id, "running")
	runtime := provisioner.ContainerName("runtime", w.Id)
	terminal := provisioner.ContainerName("terminal", w.Id)
	terminalStart := containersOf(t, w.Id)[terminal].State.StartedAt

	for exit := 1; exit < 3; exit++ {
		before := containersOf(t, w.Id)[runtime].State.StartedAt
		killed := time.Now()
		require.NoError(t, docker.ContainerKill(ctx, runtime, "KILL"))
		require.Eventually(t, func() bool {
			c := containersOf(t, w.Id)[runtime]
			return c.State.Running && c.State.StartedAt != before
		}, waitFor, tick, "exit %d: runtime not restarted", exit)
		t.Logf("exit %d: runtime running again %s after the kill", exit, time.Since(killed).Round(time.Millisecond))
		ok := assertEventually(t, func() bool {
			w = h.get(w.Id)
			return w.State == "running" && w.Services.Runtime.State == "running"
		})
		t.Logf("exit %d: reported healthy %s after the kill", exit, time.Since(killed).Round(time.Millisecond))
		require.True(t, ok, "exit %d: runtime not reported healthy again: state %s, runtime %v", exit, w.State, w.Services.Runtime)
	}
	require.Equal(t, terminalStart, containersOf(t, w.Id)[terminal].State.StartedAt, "only the exited service restarts")

	require.NoError(t, docker.ContainerKill(ctx, runtime, "KILL"))
	w = h.waitState(w.Id, "failed")
	require.Equal(t, string(errcode.ContainerCrashLoop), w.ErrorCode)
	require.Contains(t, w.StateReason, "runtime exited with code 137 3 times within 10m0s")
	require.False(t, containersOf(t, w.Id)[runtime].State.Running, "a crash-looping service is left exited")
	require.Equal(t, 2.0, h.metric("aileron_docker_provisioner_container_restarts_total", map[string]string{"service": "runtime"}), "two repairs")
	require.Equal(t, 1.0, h.metric("aileron_docker_provisioner_crash_loops_total", map[string]string{"service": "runtime"}))
	require.Equal(t, 0.0, h.metric("aileron_docker_provisioner_container_restarts_total", map[string]string{"service": "terminal"}))

	_, err := h.api.Client.StartWorkspace(ctx, &workspacev1.StartWorkspaceRequest{Id: w.Id})
	require.NoError(t, err)
	h.waitState(w.Id, "running")
}

// assertEventually polls cond until it holds or waitFor passes.
func assertEventually(t *testing.T, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(tick)
	}
	return true
}
