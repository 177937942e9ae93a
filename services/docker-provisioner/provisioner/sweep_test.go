package provisioner_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/require"

	storev1 "aileron.dev/gen/aileron/store/v1"
	workspacev1 "aileron.dev/gen/aileron/workspace/v1"
	"aileron.dev/pkg/logtest"
	"aileron.dev/pkg/workspace"
	"aileron.dev/services/api/apitest"
	"aileron.dev/services/docker-provisioner/provisioner"
)

func TestOrphanSweep(t *testing.T) {
	for _, tc := range []struct {
		name              string
		dryRun, sweepData bool
	}{
		{name: "removes all but the data volume"},
		{name: "removes the data volume when configured", sweepData: true},
		{name: "dry run logs only", dryRun: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, func(c *provisioner.Config) {
				c.SweepInterval = provisioner.Duration(200 * time.Millisecond)
				c.SweepGrace = 0
				c.SweepDryRun = tc.dryRun
				c.SweepDataVolumes = tc.sweepData
			}, nil)
			h.startProvisioner()
			live := h.create("live", false)
			h.waitState(live.Id, "running")
			orphan := "orphan" + runID
			makeOrphans(t, h.cfg.Instance, orphan)

			switch {
			case tc.dryRun:
				for _, kind := range []string{"container", "network", "volume"} {
					require.Eventually(t, func() bool {
						return h.logs.Count("orphan sweep dry run", "kind="+kind, orphan) > 0
					}, waitFor, tick, kind)
				}
				require.Len(t, containersOf(t, orphan), 1)
				nets, vols := objectsOf(t, orphan)
				require.Len(t, nets, 1)
				require.Len(t, vols, 2)
			case tc.sweepData:
				requireNothingLeft(t, orphan)
			default:
				require.Eventually(t, func() bool {
					nets, vols := objectsOf(t, orphan)
					return len(containersOf(t, orphan)) == 0 && len(nets) == 0 && len(vols) == 1
				}, waitFor, tick, "the orphan's container, network and gateway volume are removed")
				// Two more passes log the kept volume and leave it alone.
				require.Eventually(t, func() bool {
					return h.logs.Count("orphan sweep kept data volumes", provisioner.VolumeName(orphan)) >= 3
				}, waitFor, tick)
				_, vols := objectsOf(t, orphan)
				require.Equal(t, []string{provisioner.VolumeName(orphan)}, vols, "the data volume survives")
				for _, kind := range []string{"container", "network", "volume"} {
					require.GreaterOrEqual(t, h.metric("aileron_docker_provisioner_orphans_removed_total", map[string]string{"kind": kind}), 1.0, kind)
				}
				require.Positive(t, h.metric("aileron_docker_provisioner_engine_calls_total", map[string]string{"call": "ContainerRemove", "result": "ok"}))
				require.Positive(t, h.metric("aileron_docker_provisioner_reconciles_total", map[string]string{"result": "ok"}))
			}
			require.Len(t, containersOf(t, live.Id), 4, "the live workspace is untouched")
			require.Equal(t, "running", h.get(live.Id).State)
		})
	}
}

// TestSweepRechecksTheStore creates the record of an orphan between the
// sweep's listing and its removals: that workspace's objects are kept,
// another orphan's are removed in the same pass.
func TestSweepRechecksTheStore(t *testing.T) {
	h := newHarness(t, func(c *provisioner.Config) {
		c.SweepGrace = 0
		c.SweepDataVolumes = true
	}, nil)
	p, err := provisioner.New(h.cfg, docker, h.api.JS, h.log)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, p.Init(ctx))
	recreated, gone := "recreated"+runID, "gone"+runID
	makeOrphans(t, h.cfg.Instance, recreated)
	makeOrphans(t, h.cfg.Instance, gone)

	p.Sweep(ctx, func() {
		_, err := h.api.Store.Create(ctx, &storev1.WorkspaceRecord{Workspace: &workspacev1.Workspace{
			Id: recreated, Name: "recreated", Provisioner: string(workspace.ProvisionerDocker),
		}})
		require.NoError(t, err)
	})

	require.Len(t, containersOf(t, recreated), 1, "the recreated workspace's container is kept")
	nets, vols := objectsOf(t, recreated)
	require.Len(t, nets, 1)
	require.Len(t, vols, 2)
	require.Equal(t, 1, h.logs.Count("workspace appeared since the listing", recreated))
	requireNothingLeft(t, gone)
}

// TestInstanceIDPerInstallation: provisioners on two NATS installations get
// two generated instance ids, each kept in its installation's secrets
// bucket, and one's sweep leaves the other's objects alone. An installation
// that already has docker workspaces (an upgrade) adopts "default".
func TestInstanceIDPerInstallation(t *testing.T) {
	ctx := context.Background()
	a, b := apitest.Start(t, apitest.Options{}), apitest.Start(t, apitest.Options{})
	cfg := testConfig()
	cfg.Instance = ""
	cfg.SweepGrace = 0
	cfg.SweepDataVolumes = true
	logs := &logtest.Lines{}
	start := func(js jetstream.JetStream) *provisioner.Provisioner {
		p, err := provisioner.New(cfg, docker, js, slog.New(slog.NewTextHandler(logs, nil)))
		require.NoError(t, err)
		require.NoError(t, p.Init(ctx))
		return p
	}
	pa, pb := start(a.JS), start(b.JS)
	ia, ib := pa.Instance(), pb.Instance()
	t.Cleanup(func() { cleanupByLabel(context.Background(), func(i string) bool { return i == ia || i == ib }) })
	require.Regexp(t, `^i-[0-9a-f]{16}$`, ia)
	require.Regexp(t, `^i-[0-9a-f]{16}$`, ib)
	require.NotEqual(t, ia, ib)
	require.Equal(t, ia, start(a.JS).Instance(), "the id is kept in the installation's NATS")

	ofA, ofB := "insta"+runID, "instb"+runID
	makeOrphans(t, ia, ofA)
	makeOrphans(t, ib, ofB)
	pb.Sweep(ctx, nil)
	requireNothingLeft(t, ofB)
	require.Len(t, containersOf(t, ofA), 1, "the other installation's objects are untouched")
	nets, vols := objectsOf(t, ofA)
	require.Len(t, nets, 1)
	require.Len(t, vols, 2)

	t.Run("an installation whose workspaces have objects labelled default adopts it", func(t *testing.T) {
		old := "old" + runID
		c := apitest.Start(t, apitest.Options{})
		_, err := c.Store.Create(ctx, &storev1.WorkspaceRecord{Workspace: &workspacev1.Workspace{
			Id: old, Name: "old", Provisioner: string(workspace.ProvisionerDocker),
		}})
		require.NoError(t, err)
		makeOrphans(t, "default", old)
		t.Cleanup(func() { cleanupWorkspace(context.Background(), old) })
		id, err := provisioner.LoadInstance(ctx, c.JS, c.Store, docker)
		require.NoError(t, err)
		require.Equal(t, "default", id)
	})

	// A new installation whose first workspace was created before its first
	// provisioner started (aileron dev answers at once) is no upgrade: it
	// gets an id of its own, not the one every old installation shares.
	t.Run("a new installation with a workspace but no legacy objects gets its own id", func(t *testing.T) {
		c := apitest.Start(t, apitest.Options{})
		_, err := c.Store.Create(ctx, &storev1.WorkspaceRecord{Workspace: &workspacev1.Workspace{
			Id: "new" + runID, Name: "new", Provisioner: string(workspace.ProvisionerDocker),
		}})
		require.NoError(t, err)
		id, err := provisioner.LoadInstance(ctx, c.JS, c.Store, docker)
		require.NoError(t, err)
		require.Regexp(t, `^i-[0-9a-f]{16}$`, id)
	})
}

// makeOrphans creates a container, a network, a data volume and a gateway
// config volume labelled as ours for a workspace that has no record.
func makeOrphans(t *testing.T, instance, id string) {
	t.Helper()
	ctx := context.Background()
	labels := func(k, v string) map[string]string {
		return map[string]string{
			provisioner.LabelManagedBy: provisioner.ManagedBy, provisioner.LabelInstance: instance,
			provisioner.LabelWorkspaceID: id, k: v,
		}
	}
	_, err := docker.VolumeCreate(ctx, volume.CreateOptions{Name: provisioner.VolumeName(id), Labels: labels(provisioner.LabelRole, "data")})
	require.NoError(t, err)
	_, err = docker.VolumeCreate(ctx, volume.CreateOptions{Name: provisioner.GatewayName(id), Labels: labels(provisioner.LabelRole, "egress-config")})
	require.NoError(t, err)
	_, err = docker.NetworkCreate(ctx, provisioner.NetworkName("workspace", id), network.CreateOptions{Internal: true, Labels: labels(provisioner.LabelRole, "network-workspace")})
	require.NoError(t, err)
	_, err = docker.ContainerCreate(ctx, &container.Config{Image: "aileron/workspace-stub:dev", Labels: labels(provisioner.LabelService, "runtime")},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, provisioner.ContainerName("runtime", id))
	require.NoError(t, err)
}
