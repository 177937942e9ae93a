package provisioner_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/stretchr/testify/require"

	"aileron.dev/services/docker-provisioner/provisioner"
)

func TestDriftIsRepaired(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, func(c *provisioner.Config) { c.ResyncInterval = provisioner.Duration(300 * time.Millisecond) }, nil)
	h.startProvisioner()
	w := h.create("drift", false)
	w = h.waitState(w.Id, "running")
	putFile(t, w.Services.Runtime.Endpoint, "survivor.txt", "still here")
	before := containersOf(t, w.Id)

	runtime := provisioner.ContainerName("runtime", w.Id)
	require.NoError(t, docker.ContainerRemove(ctx, runtime, container.RemoveOptions{Force: true}))
	terminal := provisioner.ContainerName("terminal", w.Id)
	require.NoError(t, docker.ContainerStop(ctx, terminal, container.StopOptions{}))
	gateway := provisioner.GatewayName(w.Id)
	require.NoError(t, docker.ContainerStop(ctx, gateway, container.StopOptions{}))

	require.Eventually(t, func() bool {
		cs := containersOf(t, w.Id)
		return len(cs) == 4 && cs[runtime].ID != before[runtime].ID && cs[runtime].State.Running &&
			cs[terminal].State.Running && cs[gateway].State.Running
	}, waitFor, tick, "drift not repaired")
	require.Equal(t, before[terminal].ID, containersOf(t, w.Id)[terminal].ID, "a stopped container is restarted, not replaced")

	// The endpoint may move when the gateway restarts: read the reported one.
	require.Eventually(t, func() bool {
		w = h.get(w.Id)
		code, body, err := tryGetFile(w.Services.Runtime.Endpoint, "survivor.txt")
		return err == nil && w.State == "running" && code == http.StatusOK && body == "still here"
	}, waitFor, tick)
}
