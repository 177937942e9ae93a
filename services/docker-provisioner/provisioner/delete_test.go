package provisioner_test

import (
	"context"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/services/docker-provisioner/provisioner"
)

func TestDeleteFromEveryState(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// setup brings the workspace into the state; the provisioner runs
		// when it returns true.
		setup func(h *harness, w *workspacev1.Workspace) bool
		state string
	}{
		{name: "running", state: "running", setup: func(h *harness, w *workspacev1.Workspace) bool {
			h.startProvisioner()
			return true
		}},
		{name: "stopped", state: "stopped", setup: func(h *harness, w *workspacev1.Workspace) bool {
			h.startProvisioner()
			h.waitState(w.Id, "running")
			_, err := h.api.Client.StopWorkspace(ctx, &workspacev1.StopWorkspaceRequest{Id: w.Id})
			require.NoError(t, err)
			return true
		}},
		{name: "stuck creating", state: "creating", setup: func(h *harness, w *workspacev1.Workspace) bool {
			return false // no provisioner: it stays creating
		}},
		{name: "stuck stopping", state: "stopping", setup: func(h *harness, w *workspacev1.Workspace) bool {
			h.startProvisioner()
			h.waitState(w.Id, "running")
			h.stopProvisioner()
			_, err := h.api.Client.StopWorkspace(ctx, &workspacev1.StopWorkspaceRequest{Id: w.Id})
			require.NoError(t, err)
			return false
		}},
		{name: "half created", state: "creating", setup: func(h *harness, w *workspacev1.Workspace) bool {
			halfCreate(t, h, w.Id)
			return false
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, nil, nil)
			w := h.create("doomed", false)
			running := tc.setup(h, w)
			w = h.waitState(w.Id, tc.state)
			_, err := h.api.Client.DeleteWorkspace(ctx, &workspacev1.DeleteWorkspaceRequest{Id: w.Id})
			require.NoError(t, err)
			if !running {
				require.Equal(t, "deleting", h.get(w.Id).State)
				h.startProvisioner()
			}
			h.waitGone(w.Id)
			requireNothingLeft(t, w.Id)
		})
	}
}

// halfCreate leaves what a provisioner killed early in a create leaves: the
// data volume, one network and a created but never started container.
func halfCreate(t *testing.T, h *harness, id string) {
	t.Helper()
	ctx := context.Background()
	labels := func(role string) map[string]string {
		return map[string]string{
			provisioner.LabelManagedBy: provisioner.ManagedBy, provisioner.LabelInstance: h.cfg.Instance,
			provisioner.LabelWorkspaceID: id, provisioner.LabelService: role,
		}
	}
	_, err := docker.VolumeCreate(ctx, volume.CreateOptions{Name: provisioner.VolumeName(id), Labels: labels("data")})
	require.NoError(t, err)
	_, err = docker.NetworkCreate(ctx, "aileron-ws-"+id, network.CreateOptions{Internal: true, Labels: labels("network-workspace")})
	require.NoError(t, err)
	_, err = docker.ContainerCreate(ctx, &container.Config{Image: "aileron/workspace-stub:dev", Labels: labels("runtime")},
		&container.HostConfig{NetworkMode: container.NetworkMode("aileron-ws-" + id)}, nil, nil, provisioner.ContainerName("runtime", id))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(containersOf(t, id)) == 1 }, 10*time.Second, tick)
}
