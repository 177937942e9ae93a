package provisioner_test

import (
	"context"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/stretchr/testify/require"

	"aileron.dev/services/docker-provisioner/provisioner"
)

func TestOrphanSweep(t *testing.T) {
	for _, dryRun := range []bool{false, true} {
		name := "removes"
		if dryRun {
			name = "dry run logs only"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, func(c *provisioner.Config) {
				c.SweepInterval = provisioner.Duration(200 * time.Millisecond)
				c.SweepGrace = 0
				c.SweepDryRun = dryRun
			}, nil)
			h.startProvisioner()
			live := h.create("live", false)
			h.waitState(live.Id, "running")
			orphan := "orphan" + runID
			makeOrphans(t, h.cfg.Instance, orphan)

			if dryRun {
				for _, kind := range []string{"container", "network", "volume"} {
					require.Eventually(t, func() bool {
						return h.logs.count("orphan sweep dry run", "kind="+kind, orphan) > 0
					}, waitFor, tick, kind)
				}
				require.Len(t, containersOf(t, orphan), 1)
				nets, vols := objectsOf(t, orphan)
				require.Len(t, nets, 1)
				require.Len(t, vols, 1)
			} else {
				requireNothingLeft(t, orphan)
			}
			require.Len(t, containersOf(t, live.Id), 4, "the live workspace is untouched")
			require.Equal(t, "running", h.get(live.Id).State)
		})
	}
}

// makeOrphans creates a container, network and volume labelled as ours for
// a workspace that has no record.
func makeOrphans(t *testing.T, instance, id string) {
	t.Helper()
	ctx := context.Background()
	labels := map[string]string{
		provisioner.LabelManagedBy: provisioner.ManagedBy, provisioner.LabelInstance: instance,
		provisioner.LabelWorkspaceID: id, provisioner.LabelService: "runtime",
	}
	_, err := docker.VolumeCreate(ctx, volume.CreateOptions{Name: provisioner.VolumeName(id), Labels: labels})
	require.NoError(t, err)
	_, err = docker.NetworkCreate(ctx, provisioner.NetworkName("workspace", id), network.CreateOptions{Internal: true, Labels: labels})
	require.NoError(t, err)
	_, err = docker.ContainerCreate(ctx, &container.Config{Image: "aileron/workspace-stub:dev", Labels: labels},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, provisioner.ContainerName("runtime", id))
	require.NoError(t, err)
}
