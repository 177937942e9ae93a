package provisioner_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/volume"
	"github.com/stretchr/testify/require"

	"aileron.dev/pkg/workspace"
	"aileron.dev/services/docker-provisioner/provisioner"
)

// BenchmarkCreateToRunningRealImages is BenchmarkCreateToRunning with the
// real images (runtime and terminal run the runtime daemon from
// aileron/workspace-runtime:dev; the browser is still the stub), against
// what a user would do by hand: one volume, one plain bridge network, the
// same three images started with plain Docker API calls (in parallel, with
// the same hardening), until each answers /healthz at its address. No
// egress gateway, no internal networks, no ingress: the floor leaves out the
// per-workspace topology the firewall needs, so the ratio is its cost.
// Needs `make images` (hack/workspace-images.sh). Run with -benchtime=Nx:
//
//	go test ./provisioner -run '^$' -bench RealImages -benchtime 10x -timeout 30m
func BenchmarkCreateToRunningRealImages(b *testing.B) {
	h := newHarness(b, func(c *provisioner.Config) {
		def := provisioner.DefaultConfig()
		c.Services.Runtime, c.Services.Terminal = def.Services.Runtime, def.Services.Terminal
	}, nil)
	h.startProvisioner()
	w := newWatcher(b, h)
	var prov, floor []time.Duration
	for i := 0; b.Loop(); i++ {
		prov = append(prov, createViaAPI(b, h, w, fmt.Sprintf("real-%d", i)))
		floor = append(floor, createByHand(b, h.cfg, fmt.Sprintf("hand%s%d", runID, i)))
	}
	reportPercentiles(b, "provisioner", prov)
	reportPercentiles(b, "by-hand", floor)
	b.ReportMetric(float64(percentile(prov, 50))/float64(percentile(floor, 50)), "ratio-p50")
	b.ReportMetric(float64(percentile(prov, 95))/float64(percentile(floor, 95)), "ratio-p95")
}

// createByHand starts runtime, terminal and browser on one network with one
// volume and waits for each one's /healthz; it removes them untimed.
func createByHand(b *testing.B, cfg provisioner.Config, id string) time.Duration {
	ctx := context.Background()
	labels := map[string]string{provisioner.LabelManagedBy: provisioner.ManagedBy, provisioner.LabelInstance: cfg.Instance, provisioner.LabelWorkspaceID: id}
	defer cleanupWorkspace(ctx, id)
	start := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := docker.VolumeCreate(ctx, volume.CreateOptions{Name: "workspace-data-" + id, Labels: labels})
		require.NoError(b, err)
	})
	wg.Go(func() {
		_, err := docker.NetworkCreate(ctx, "aileron-hand-"+id, network.CreateOptions{Labels: labels})
		require.NoError(b, err)
	})
	wg.Wait()
	for _, s := range []workspace.Service{workspace.ServiceRuntime, workspace.ServiceTerminal, workspace.ServiceBrowser} {
		wg.Go(func() {
			sc := cfg.Services.Get(s)
			hc := benchHardened(sc.MemoryMB)
			hc.NetworkMode = container.NetworkMode("aileron-hand-" + id)
			if s != workspace.ServiceBrowser {
				hc.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: "workspace-data-" + id, Target: "/workspace"}}
			}
			env := []string{"PORT=8080"}
			for k, v := range sc.Env {
				env = append(env, k+"="+v)
			}
			c, err := docker.ContainerCreate(ctx, &container.Config{Image: sc.Image, User: "65532:65532", Labels: labels, Env: env}, hc, nil, nil, "workspace-"+string(s)+"-"+id)
			if err == nil {
				err = docker.ContainerStart(ctx, c.ID, container.StartOptions{})
			}
			require.NoError(b, err)
			ci, err := docker.ContainerInspect(ctx, c.ID)
			require.NoError(b, err)
			u := "http://" + ci.NetworkSettings.Networks["aileron-hand-"+id].IPAddress + ":8080/healthz"
			for {
				resp, err := http.Get(u)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						return
					}
				}
				time.Sleep(20 * time.Millisecond) // the provisioner's first probe interval
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
