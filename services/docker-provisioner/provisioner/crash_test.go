package provisioner_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/network"
	"github.com/stretchr/testify/require"

	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/services/docker-provisioner/provisioner"
)

// TestKilledMidCreateConverges cancels the provisioner as soon as the first
// workspace has its first network (in the middle of its create), starts a
// new one, and checks every workspace converges with exactly its objects:
// nothing duplicated, nothing leaked. Then the same for a delete.
func TestKilledMidCreateConverges(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, nil, nil)
	h.startProvisioner()
	var ids []string
	for i := range 3 {
		ids = append(ids, h.create(fmt.Sprintf("crash-%d", i), i == 0).Id)
	}
	require.Eventually(t, func() bool {
		ns, err := docker.NetworkList(ctx, network.ListOptions{Filters: filters.NewArgs(filters.Arg("name", "aileron-ws-"+ids[0]))})
		return err == nil && len(ns) > 0
	}, waitFor, 2*time.Millisecond)
	h.stopProvisioner()
	require.Equal(t, "creating", h.get(ids[0]).State, "the kill must land mid-create")

	h.startProvisioner()
	for i, id := range ids {
		h.waitState(id, "running")
		want := []string{
			provisioner.GatewayName(id), provisioner.ContainerName("runtime", id),
			provisioner.ContainerName("terminal", id), provisioner.ContainerName("browser", id),
		}
		if i == 0 {
			want = append(want, provisioner.ContainerName("canvas", id))
		}
		require.ElementsMatch(t, want, names(containersOf(t, id)))
		nets, vols := objectsOf(t, id)
		require.ElementsMatch(t, []string{provisioner.NetworkName("workspace", id), provisioner.NetworkName("browser", id)}, nets)
		require.ElementsMatch(t, []string{provisioner.VolumeName(id), "workspace-egress-" + id}, vols)
	}

	for _, id := range ids {
		_, err := h.api.Client.DeleteWorkspace(ctx, &workspacev1.DeleteWorkspaceRequest{Id: id})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return len(containersOf(t, ids[0])) < 5 }, waitFor, 2*time.Millisecond)
	h.stopProvisioner()
	h.startProvisioner()
	for _, id := range ids {
		h.waitGone(id)
		requireNothingLeft(t, id)
	}
}

func names[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
